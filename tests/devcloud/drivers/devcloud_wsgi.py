"""Generic WSGI entry for the OpenStack APIs under gunicorn (runs inside the service venv).

The services parse `sys.argv` with oslo.config when their WSGI module is imported; under
gunicorn that argv is gunicorn's own (`-b ... -w ...`) and the import dies with "unrecognized
arguments". So the argv is swapped for the service's (`DEVCLOUD_WSGI_ARGV`, whitespace
separated) while `DEVCLOUD_WSGI_APP` ("module:attribute") is imported.
"""

import importlib
import os
import sys

_gunicorn_argv = sys.argv
sys.argv = os.environ.get("DEVCLOUD_WSGI_ARGV", "devcloud-wsgi").split()
try:
    for _module in filter(None, os.environ.get("DEVCLOUD_WSGI_PREIMPORT", "").split(",")):
        importlib.import_module(_module)
    _module_name, _, _attribute = os.environ["DEVCLOUD_WSGI_APP"].partition(":")
    application = getattr(importlib.import_module(_module_name), _attribute)
    if os.environ.get("DEVCLOUD_WSGI_CONFIGURE_MAPPERS"):
        # Backrefs (neutron's Port.port_forwardings) exist only once the mappers are
        # configured; code that names them before the first query fails with AttributeError.
        import sqlalchemy.orm

        sqlalchemy.orm.configure_mappers()
finally:
    sys.argv = _gunicorn_argv
