#!/usr/bin/env python3
"""Writes Sources/TockHTTP/OpenAPIDocument.swift: Tock's OpenAPI 3 document (served at /api/v1/openapi.json).

Edit the document here, run `python3 scripts/openapi.py`, commit both. The test suite fails when a route the
server registers is missing from the document.
"""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def param(name, where, desc, schema=None, required=False):
    return {"name": name, "in": where, "required": required or where == "path", "description": desc,
            "schema": schema or {"type": "string"}}
def body(schema, desc):
    return {"required": True, "description": desc, "content": {"application/json": {"schema": schema}}}
def ok(desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None: r["content"] = {ctype: {"schema": schema}}
    return r
err = lambda d: {"description": d, "content": {"application/json": {"schema": ref("Error")}}}
JOB_ID = param("job_id", "path", "The job's id.")
EXEC_ID = param("id", "path", "An execution's id (POST: a job's id, as ndscheduler has it).")
RANGE = [param("time_range_start", "query", "ISO 8601 time (offset honoured; none = UTC). Default: 10 minutes ago when no range, job or state is given.", {"type": "string", "format": "date-time"}),
         param("time_range_end", "query", "ISO 8601 time.", {"type": "string", "format": "date-time"})]
jobid_resp = {"type": "object", "properties": {"job_id": {"type": "string"}}, "required": ["job_id"]}
s = lambda: {"type": "string"}
ns = lambda: {"type": "string", "nullable": True}

doc = {
 "openapi": "3.0.3",
 "info": {"title": "Tock REST API", "version": "1",
          "description": "Tock's API: ndscheduler 0.3's paths and shapes (its clients keep working) with its bugs fixed, plus Tock's additions. Errors are always JSON {\"error\": …, \"field\": …}."},
 "servers": [{"url": "http://127.0.0.1:8888"}],
 "paths": {
  "/healthz": {"get": {"summary": "Liveness", "operationId": "health", "responses": {"200": ok("Up", {"type": "object", "properties": {"status": s(), "jobs": {"type": "integer"}, "running": {"type": "integer"}}})}}},
  "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics", "responses": {"200": ok("Prometheus text format", {"type": "string"}, "text/plain")}}},
  "/api/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "responses": {"200": ok("OpenAPI 3 document", {"type": "object"})}}},
  "/api/v1/jobs": {
   "get": {"summary": "List jobs", "operationId": "listJobs",
           "parameters": [param("tag", "query", "Only jobs with this tag."), param("q", "query", "Case-insensitive text in id, name, description, schedule, argv or tags."),
                          param("limit", "query", "Page size.", {"type": "integer", "minimum": 1}), param("offset", "query", "Jobs to skip.", {"type": "integer", "minimum": 0})],
           "responses": {"200": ok("Jobs, by id", {"type": "object", "properties": {"jobs": {"type": "array", "items": ref("Job")}, "counts": ref("JobCounts")}, "required": ["jobs"]}), "400": err("Bad parameter")}},
   "post": {"summary": "Create a job", "operationId": "createJob", "requestBody": body(ref("JobInput"), "Tock's keys or ndscheduler's"),
            "responses": {"201": ok("Created", jobid_resp), "400": err("Bad input (the field is named)"), "409": err("The id exists"), "413": err("Body over 1 MiB"), "415": err("Body not JSON")}}},
  "/api/v1/jobs/{job_id}": {
   "parameters": [JOB_ID],
   "get": {"summary": "Read a job", "operationId": "getJob", "responses": {"200": ok("The job", ref("Job")), "404": err("Unknown job")}},
   "put": {"summary": "Replace a job created through the API", "operationId": "replaceJob", "requestBody": body(ref("JobInput"), "The whole new definition"),
           "responses": {"200": ok("Replaced; lists the keys that changed", {"type": "object", "properties": {"job_id": s(), "modified": {"type": "array", "items": s()}}}),
                         "400": err("Bad input"), "404": err("Unknown job"), "409": err("The job is defined in a file"), "413": err("Too large"), "415": err("Not JSON")}},
   "delete": {"summary": "Delete a job created through the API (its history stays)", "operationId": "deleteJob",
              "responses": {"200": ok("Deleted", {"type": "object", "properties": {"job_id": s(), "deleted": {"type": "boolean"}, "running": {"type": "array", "items": s()}}}), "404": err("Unknown job"), "409": err("The job is defined in a file")}},
   "patch": {"summary": "Pause (ndscheduler's verb)", "operationId": "pauseJobPatch", "responses": {"200": ok("Paused", ref("PauseResult")), "404": err("Unknown job")}},
   "options": {"summary": "Resume (ndscheduler's verb)", "operationId": "resumeJobOptions", "responses": {"200": ok("Resumed", ref("PauseResult")), "404": err("Unknown job")}}},
  "/api/v1/jobs/{job_id}/pause": {"parameters": [JOB_ID], "post": {"summary": "Pause", "operationId": "pauseJob", "responses": {"200": ok("Paused", ref("PauseResult")), "404": err("Unknown job")}}},
  "/api/v1/jobs/{job_id}/resume": {"parameters": [JOB_ID], "post": {"summary": "Resume", "operationId": "resumeJob", "responses": {"200": ok("Resumed", ref("PauseResult")), "404": err("Unknown job")}}},
  "/api/v1/executions": {"get": {"summary": "List executions, newest first", "operationId": "listExecutions",
     "parameters": RANGE + [param("job_id", "query", "Only this job."), param("state", "query", "Only this state.", ref("ExecutionState")),
                            param("limit", "query", "Page size (default 100).", {"type": "integer", "minimum": 1, "maximum": 1000}), param("cursor", "query", "next_cursor of the previous page.")],
     "responses": {"200": ok("A page", {"type": "object", "properties": {"executions": {"type": "array", "items": ref("Execution")}, "next_cursor": ns()}, "required": ["executions"]}), "400": err("Bad parameter")}}},
  "/api/v1/executions/{id}": {"parameters": [EXEC_ID], "post": {"summary": "Run a job now; answers at once", "operationId": "runJob",
     "parameters": [param("force", "query", "Run even if the overlap policy forbids it.", {"type": "boolean"})],
     "responses": {"200": ok("Started", {"type": "object", "properties": {"execution_id": s(), "job_id": s()}}), "404": err("Unknown job"), "409": err("Already running and overlap forbids another run"), "503": err("Shutting down")}},
     "get": {"summary": "Read an execution", "operationId": "getExecution", "responses": {"200": ok("The execution", ref("Execution")), "404": err("Unknown execution")}},
     "delete": {"summary": "Stop a running execution (SIGTERM to its process group, SIGKILL after kill_grace)", "operationId": "stopExecution",
                "responses": {"200": ok("Stopping", {"type": "object", "properties": {"execution_id": s(), "stopping": {"type": "boolean"}}}), "404": err("Unknown execution"), "409": err("Not running")}}},
  "/api/v1/executions/{id}/output": {"parameters": [EXEC_ID], "get": {"summary": "Captured output; with Accept: text/event-stream a live tail until the run ends", "operationId": "getOutput",
     "parameters": [param("stream", "query", "stdout (default for text) or stderr; events: both unless given.", {"type": "string", "enum": ["stdout", "stderr"]})],
     "responses": {"200": {"description": "text/plain output, or server-sent events: `output` ({stream, text}) then one `end` (the execution)",
                           "content": {"text/plain": {"schema": {"type": "string"}}, "text/event-stream": {"schema": {"type": "string"}}}}, "400": err("Bad stream"), "404": err("Unknown execution")}}},
  "/api/v1/logs": {"get": {"summary": "Audit log, newest first", "operationId": "listLogs", "parameters": RANGE + [param("job_id", "query", "Only this job."), param("limit", "query", "At most (default 1000).", {"type": "integer"})],
     "responses": {"200": ok("Entries", {"type": "object", "properties": {"logs": {"type": "array", "items": ref("AuditEntry")}}, "required": ["logs"]}), "400": err("Bad parameter")}}},
  "/api/v1/schedule/preview": {"get": {"summary": "Next fire times and a description of a schedule", "operationId": "previewSchedule",
     "parameters": [param("expr", "query", "A schedule (cron, macro, @every).", required=True), param("tz", "query", "IANA zone (default: the server's)."), param("count", "query", "How many (1-100, default 5).", {"type": "integer"})],
     "responses": {"200": ok("Valid", {"type": "object", "properties": {"expr": s(), "valid": {"type": "boolean"}, "description": s(), "timezone": s(), "next_run_times": {"type": "array", "items": s()}}}), "400": err("Invalid; field names the part at fault")}}},
 },
 "components": {"schemas": {
  "Error": {"type": "object", "properties": {"error": s(), "field": s()}, "required": ["error"]},
  "PauseResult": {"type": "object", "properties": {"job_id": s(), "paused": {"type": "boolean"}, "changed": {"type": "boolean"}}},
  "JobCounts": {"type": "object", "properties": {k: {"type": "integer"} for k in ["total", "active", "paused", "failing", "matching"]}},
  "ExecutionState": {"type": "string", "enum": ["scheduled", "running", "succeeded", "failed", "timeout", "stopped", "skipped", "missed", "interrupted", "scheduled error"]},
  "JobInput": {"type": "object", "description": "Tock's job-file keys (SPEC §3) or ndscheduler's (job_class_string + pub_args + split cron fields, read with APScheduler's rules). Tock's keys win where both are given; keys of a response (next_run_time, source, …) are ignored so a GET can be sent back.",
     "properties": {"job_id": s(), "name": s(), "schedule": s(), "command": s(), "shell": s(), "exec": {"type": "array", "items": s()}, "description": s(), "timezone": s(), "working_dir": s(),
                    "env": {"type": "object", "additionalProperties": s()}, "inherit_env": {"type": "boolean"}, "user": s(), "stdin": s(), "timeout": s(), "kill_grace": s(), "retries": {"type": "integer"},
                    "retry_delay": s(), "retry_max_delay": s(), "overlap": {"type": "string", "enum": ["skip", "allow", "queue", "replace"]}, "catchup": {"type": "string", "enum": ["skip", "latest", "all"]},
                    "catchup_window": s(), "jitter": s(), "max_output": {"oneOf": [s(), {"type": "integer"}]}, "enabled": {"type": "boolean"}, "tags": {"type": "array", "items": s()}, "mail_to": s(),
                    "on_failure": ref("Notification"), "on_success": ref("Notification"),
                    "job_class_string": s(), "pub_args": {"type": "array", "items": s()}, "month": s(), "day": s(), "week": s(), "day_of_week": s(), "hour": s(), "minute": s()}},
  "Notification": {"type": "object", "properties": {"webhook": s(), "command": s()}},
  "ExecutionSummary": {"type": "object", "properties": {"execution_id": s(), "state": ref("ExecutionState"), "scheduled_time": s(), "started_time": ns(), "ended_time": ns(), "exit_code": {"type": "integer", "nullable": True}}},
  "Job": {"type": "object", "required": ["job_id", "name", "next_run_time", "job_class_string", "pub_args", "month", "day", "week", "day_of_week", "hour", "minute", "schedule", "source", "paused"],
     "properties": {"job_id": s(), "name": s(), "next_run_time": {"type": "string", "description": "\"\" when paused or never"}, "job_class_string": s(), "pub_args": {"type": "array", "items": s()},
                    "month": s(), "day": s(), "week": s(), "day_of_week": s(), "hour": s(), "minute": s(), "schedule": s(), "schedule_description": s(), "timezone": s(),
                    "command": s(), "shell": s(), "exec": {"type": "array", "items": s()}, "kind": s(), "args": {"type": "object"}, "description": s(), "working_dir": ns(),
                    "env": {"type": "object", "additionalProperties": s()}, "inherit_env": {"type": "boolean"}, "user": ns(), "stdin": ns(), "timeout": ns(), "kill_grace": s(), "retries": {"type": "integer"},
                    "retry_delay": s(), "retry_max_delay": s(), "overlap": s(), "catchup": s(), "catchup_window": s(), "jitter": s(), "max_output": {"type": "integer"}, "enabled": {"type": "boolean"},
                    "tags": {"type": "array", "items": s()}, "mail_to": ns(), "on_failure": {"allOf": [ref("Notification")], "nullable": True}, "on_success": {"allOf": [ref("Notification")], "nullable": True},
                    "source": {"type": "string", "enum": ["file", "api"]}, "file": s(), "line": {"type": "integer"}, "paused": {"type": "boolean"}, "running": {"type": "array", "items": s()},
                    "last_execution": {"allOf": [ref("ExecutionSummary")], "nullable": True}, "recent_results": {"type": "array", "items": ref("ExecutionState")}}},
  "Execution": {"type": "object", "required": ["execution_id", "state", "scheduled_time", "job_id"],
     "properties": {"execution_id": s(), "state": ref("ExecutionState"), "hostname": s(), "pid": {"type": "integer", "nullable": True}, "task_id": ns(), "description": s(), "result": ns(),
                    "scheduled_time": s(), "updated_time": s(), "job": {"type": "object"}, "job_id": s(), "job_name": ns(), "trigger": {"type": "string", "enum": ["schedule", "manual", "catchup", "reboot", "retry"]},
                    "started_time": ns(), "ended_time": ns(), "duration": {"type": "number", "nullable": True}, "attempt": {"type": "integer"}, "exit_code": {"type": "integer", "nullable": True},
                    "signal": {"type": "integer", "nullable": True}, "message": ns(), "stdout_bytes": {"type": "integer"}, "stderr_bytes": {"type": "integer"}}},
  "AuditEntry": {"type": "object", "properties": {"job_id": s(), "job_name": s(), "event": {"type": "string", "enum": ["added", "modified", "deleted", "paused", "resumed", "custom_run", "stopped"]},
                 "user": s(), "created_time": s(), "description": s(), "id": {"type": "integer"}}},
 }},
}

text = json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False)
assert '"""#' not in text
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(root, "Sources/TockHTTP/OpenAPIDocument.swift"), "w") as f:
    f.write("// Generated by scripts/openapi.py; edit that script and run it again.\n\n")
    f.write("/// Tock's OpenAPI 3 document, served at `/api/v1/openapi.json`.\n")
    f.write("enum OpenAPIDocument {\n    static let json = #\"\"\"\n")
    f.write(text)
    f.write("\n\"\"\"#\n}\n")
