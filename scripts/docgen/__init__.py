"""The parts of scripts/gen_docs.py: what fills each placeholder of docs/templates/*.tmpl."""
