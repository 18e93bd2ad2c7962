"""The registration's steps, one group per module (see ``base``)."""
