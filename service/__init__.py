"""The Kairos HTTP service: app factory, settings, routes and the command line."""
