"""Message content: sandboxed templates, filters, SMS segments, validation and external data."""
