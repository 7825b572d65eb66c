"""The demo: a realistic Suzhou event generator and the main job (`make run`)."""
