"""gunicorn settings of the race tests: diagnostics only, nothing changes how requests are served.

Each worker logs, on stderr, what the app logs at WARNING and above (a SCIM 500's
traceback) and every error the database returned to any statement: its SQLSTATE,
message and detail, the statement, the worker's PostgreSQL backend and the request. A
deadlock or serialization failure the server answers with a 409 leaves no traceback;
these lines still name the two statements that collided.
"""

from __future__ import annotations

import logging
import typing as t

from flask import has_request_context
from flask import request
from sqlalchemy import event
from sqlalchemy.engine import Engine

logger = logging.getLogger("races.database")

#: No control socket (gunicorn 25.1+): its default path is one per machine, shared by every run.
control_socket_disable = True


def post_worker_init(worker: t.Any) -> None:
    logging.basicConfig(
        level=logging.WARNING, format="[%(process)d] %(levelname)s %(name)s: %(message)s"
    )
    event.listen(Engine, "handle_error", _log_database_error)


def _log_database_error(context: t.Any) -> None:
    error = context.original_exception
    diag = getattr(error, "diag", None)
    where = f"{request.method} {request.path}" if has_request_context() else "(no request)"
    logger.warning(
        "DATABASE ERROR SQLSTATE %s %s (backend %s, %s): %s\nDETAIL: %s\nSTATEMENT: %s",
        getattr(error, "sqlstate", None),
        type(error).__name__,
        _backend_pid(context),
        where,
        str(error).strip(),
        getattr(diag, "message_detail", None),
        " ".join(str(context.statement).split()),
    )


def _backend_pid(context: t.Any) -> t.Any:
    try:
        return context.connection.connection.dbapi_connection.info.backend_pid
    except AttributeError:
        return None
