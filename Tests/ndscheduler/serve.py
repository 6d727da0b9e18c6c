"""ndscheduler 0.3.0 as its reference scheduler runs it, started by NdschedulerImportTests (PYTHONPATH=Tests/ndscheduler)."""
import sqlalchemy.engine.result as _result
def _iter(self):  # PEP 479: SQLAlchemy 1.0 ends this generator with `raise StopIteration`
    while True:
        row = self.fetchone()
        if row is None:
            return
        yield row
_result.ResultProxy.__iter__ = _iter
from ndscheduler.server import server
server.SchedulerServer.run()
