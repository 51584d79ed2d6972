"""The Flask web application of jiedai: `web.app.create_app` builds it."""
