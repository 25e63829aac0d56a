"""The whole database schema, one module per stage that owns the tables.

The tables live here, in ``db/``, rather than in the stages: any part of the library (the
review app, the export, the CLI) can read a stage's rows without importing that stage, so
the storage layer never pulls in Scrapy, Playwright or OpenCV. :mod:`copyseal.db.models`
imports every module here and re-exports the table classes.
"""
