"""Prints the next N fire times APScheduler (ndscheduler's scheduler) computes for split cron fields.

Usage: next_fire_times.py FIELDS_JSON NOW_ISO [N] — one ISO 8601 time per line, UTC.
"""
import datetime
import json
import sys

import pytz
from apscheduler.triggers.cron import CronTrigger

fields = {k: v for k, v in json.loads(sys.argv[1]).items()
          if k in ("month", "day", "week", "day_of_week", "hour", "minute")}
now = datetime.datetime.fromisoformat(sys.argv[2]).astimezone(pytz.utc)
count = int(sys.argv[3]) if len(sys.argv) > 3 else 10
trigger = CronTrigger(timezone=pytz.utc, **fields)
previous = None
for _ in range(count):
    previous = trigger.get_next_fire_time(previous, now if previous is None else previous + datetime.timedelta(seconds=1))
    print(previous.astimezone(pytz.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
