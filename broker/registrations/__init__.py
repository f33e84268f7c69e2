"""Context provider registrations (`/v2/registrations`), stored and served as Orion does; no forwarding."""
