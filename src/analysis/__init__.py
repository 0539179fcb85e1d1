"""Pressure & Precedent: did online pressure come before a legal change, or after it?"""

__version__ = "0.1.0"
