"""Stand-ins for the external government systems, served over HTTP for development and tests.

Production code never imports this package; it reaches these systems only through the typed
clients in ``activities.gov`` at the base URL given by settings.
"""
