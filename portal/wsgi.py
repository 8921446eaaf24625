"""WSGI entry point for gunicorn: ``gunicorn portal.wsgi:app``."""
from portal import create_app, jobs

app = create_app()

if app.config.get("SEARCH_WRITER") == "thread":
    from portal.search.indexing import worker

    worker(app).wake()  # catch up with changes made while the server was down; build a missing index

jobs.start(app)  # the embedded job runner ("thread" mode): resumes jobs left by a restart
