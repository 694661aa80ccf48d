"""Command-line pieces shared by every tool (:mod:`mipnet.cli.parsers`)."""
