"""Wheels: build per Python against the prebuilt core, repair, check, test, publish."""
