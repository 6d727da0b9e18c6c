import json, os, urllib.request
from ndscheduler import job
class SlackJob(job.JobBase):
    MAX_RETRIES = 3
    TIMEOUT = 10
    @classmethod
    def meta_info(cls):
        return {'job_class_string': '%s.%s' % (cls.__module__, cls.__name__), 'notes': 'slack', 'arguments': [{'type': 'string', 'description': 'channel'}, {'type': 'string', 'description': 'name'}, {'type': 'string', 'description': 'icon_emoji'}, {'type': 'string', 'description': 'message'}], 'example_arguments': '["#slack-bot-test", "ndscheduler chat bot", ":satisfied:", "Standup, team! @channel"]'}
    def run(self, channel, name, icon_emoji, message, *args, **kwargs):
        url = os.environ['SIMPLE_SCHEDULER_SLACK_URL']
        payload = {'channel': channel, 'username': name, 'text': message, 'icon_emoji': icon_emoji}
        urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(payload).encode()), timeout=self.TIMEOUT)
