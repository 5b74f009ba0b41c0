"""The project's containers: images built from docker/ (images.py, recorded in
docker/images.lock), the engine (engine.py), and sessions re-run inside them (session.py)."""
