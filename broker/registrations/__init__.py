"""Context providers: registrations (`/v2/registrations`) validated and rendered as Orion does, and
request forwarding to the providers they name (routing rules, wire format, the concurrent client)."""
