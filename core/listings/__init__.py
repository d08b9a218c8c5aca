"""Public listings: what an instance shows the public about its groups and events, with a
version per listing, announced to plugins as the `listing.changed` core event."""
