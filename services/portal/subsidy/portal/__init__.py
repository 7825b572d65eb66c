"""The portal: the platform's HTTP/JSON API (Connect) with OpenAPI, people's sessions, and the
enterprise page and bureau workbench."""
