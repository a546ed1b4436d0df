"""Merkki's credential engine: Open Badges 3.0 on VC Data Model 2.0, signed with eddsa-rdfc-2022.

This package imports neither Flask nor SQLAlchemy; the service around it (``issuer``) does.
"""
