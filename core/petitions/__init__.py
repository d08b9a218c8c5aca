"""Petitions: started by anyone, signed by members, delivered to their targets."""
