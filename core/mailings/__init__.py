"""Mailings: leaders mail their signers, staff mail members, the boost engine mails samples."""
