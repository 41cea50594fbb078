"""Tests of the gateway (bot/)."""
