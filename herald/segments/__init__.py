"""Audiences: segment definitions, their compilation to SQL on every engine, materialisation,
explanation, estimates and exports (see herald.segments.definition for the document)."""
