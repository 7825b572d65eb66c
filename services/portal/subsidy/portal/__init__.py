"""The portal: the HTTP/JSON API (Connect), sessions, the enterprise page and the workbench."""

# The API is the platform's, with OpenAPI; the sessions are people's; the workbench is the bureaus'.
