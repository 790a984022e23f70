"""Sample landing data: `herald generate` writes realistic source files for N true persons,
and a truth file saying which records belong to the same person.

See docs/landing.md for the sources, their columns and the truth file.
"""

from herald.generate.runner import (
    CHUNK_PERSONS,
    GenerateError,
    GenerationReport,
    generate,
    truth_path,
)

__all__ = ["CHUNK_PERSONS", "GenerateError", "GenerationReport", "generate", "truth_path"]
