"""The web UI's pages, one module each, with a module-level `router` (ui/web/pages.py)."""
