import json, urllib.request
from ndscheduler import job
class CurlJob(job.JobBase):
    TIMEOUT = 10
    @classmethod
    def meta_info(cls):
        return {'job_class_string': '%s.%s' % (cls.__module__, cls.__name__), 'notes': 'curl', 'arguments': [{'type': 'string', 'description': 'URL'}, {'type': 'string', 'description': 'method'}], 'example_arguments': '["http://localhost:8888/api/v1/jobs", "GET"]'}
    def run(self, url, request_type, *args, **kwargs):
        req = urllib.request.Request(url, method=request_type)
        return urllib.request.urlopen(req, timeout=self.TIMEOUT).read().decode()
