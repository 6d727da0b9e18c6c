import subprocess
from ndscheduler import job
class ShellJob(job.JobBase):
    @classmethod
    def meta_info(cls):
        return {'job_class_string': '%s.%s' % (cls.__module__, cls.__name__), 'notes': 'shell', 'arguments': [{'type': 'string', 'description': 'Executable path'}], 'example_arguments': '["/usr/local/my_program.sh", "arg1", "arg2"]'}
    def run(self, *args, **kwargs):
        return {'returncode': subprocess.call(args)}
