"""The web UI in a real browser: headless Chromium driven by Selenium against a real `tock serve`.

Run by scripts/test-ui (which scripts/test calls). Environment: TOCK_BINARY (the tock executable), TOCK_WEB_DIR,
CHROMEDRIVER (default: chromedriver on PATH), SCREENSHOTS (where to save screenshots; default docs/screenshots).

UITests is an ordered story (test_NN, run in name order) sharing one daemon and one browser, so one failure can
cascade into the tests after it: read the first failure first. The other classes start their own daemon.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOCK = os.environ.get("TOCK_BINARY", os.path.join(ROOT, ".build/debug/tock"))
# Unset: the UI compiled into the binary (what users get); set: `--web-dir` that directory.
WEB = os.environ.get("TOCK_WEB_DIR")
SHOTS = os.environ.get("SCREENSHOTS", os.path.join(ROOT, "docs/screenshots"))

ROOT_DAEMON = os.geteuid() == 0
XSS_NAME = '<img src=x onerror="window.__xss=1">'
FILE_JOBS = f"""
[job.nightly-report]
name = "Nightly report"
schedule = "30 2 * * *"
timezone = "America/New_York"
command = "echo report done"
tags = ["reports"]

[job.xss]
name = '{XSS_NAME}'
schedule = "@yearly"
command = "echo '<script>window.__xss=2</script><b>bold?</b>'"

[job.monthly-ny]
name = "Monthly, New York"
schedule = "0 12 1 * *"
timezone = "America/New_York"
command = "true"

[job.big-output]
schedule = "@yearly"
command = "head -c 1048576 /dev/zero | tr '\\\\0' 'x'; echo; echo END"
max_output = "2MiB"
"""


ADMIN_PASSWORD = "admin-password-1"


def tock(directory, *args, stdin=None, database=None):
    """Runs the tock CLI on a daemon's data directory (as an operator on the server would); returns stdout."""
    store = ["--database", database] if database else []
    done = subprocess.run([TOCK, *args, "--data-dir", os.path.join(directory, "data"), *store], input=stdin,
                          cwd=directory, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"tock {' '.join(args)}: {done.stderr}")
    return done.stdout


class Daemon:
    """A real `tock serve` on a free port in a temporary directory. It runs as CI does (root), so authentication is
    required: with `users`, an admin user ("admin") and an admin API token (for the test's own API calls) are made
    with the CLI first; without, the daemon starts locked, with its one-time setup code."""

    def __init__(self, jobs_toml, users=True, database=None, node=None, token=None, config=""):
        """`database` (postgres://…) and `node`: one node of a cluster; `token`: an admin token made already (by
        another node on the same database)."""
        self.dir = tempfile.mkdtemp(prefix="tock-ui-")
        os.makedirs(os.path.join(self.dir, "jobs.d"))
        with open(os.path.join(self.dir, "jobs.d", "jobs.toml"), "w") as f:
            f.write(jobs_toml)
        self.token = token
        if users:
            tock(self.dir, "users", "add", "admin", "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n",
                 database=database)
            self.token = tock(self.dir, "tokens", "create", "ui-test", "--role", "admin", database=database).strip()
        # A root daemon takes API jobs only with a `user` from this list (the editor's "Run as user").
        with open(os.path.join(self.dir, "tock.toml"), "w") as f:
            f.write('api_job_users = ["root"]\n' + config)
        self.log = open(os.path.join(self.dir, "serve.log"), "w+")
        cluster = (["--database", database] if database else []) + (["--node-name", node] if node else [])
        self.process = subprocess.Popen(
            [TOCK, "serve", "--config", "tock.toml", "--listen", "127.0.0.1:0", "--jobs-dir", "jobs.d", "--data-dir",
             "data"] + cluster + (["--web-dir", WEB] if WEB else []),
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None:
            time.sleep(0.1)
            with open(self.log.name) as f:
                line = next((l for l in f.read().splitlines() if "HTTP server listening" in l), "")
                match = re.search(r"port=(\d+)", line)
            if match:
                self.port = int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError("tock serve exited: " + open(self.log.name).read())
        if self.port is None:
            raise RuntimeError("tock serve did not listen: " + open(self.log.name).read())
        self.url = f"http://127.0.0.1:{self.port}"

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return json.loads(text) if text.startswith(("{", "[")) else text

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def log_in(driver, url, user, password):
    """Logs a browser in through the login page; waits for the jobs page with the user's name in the header."""
    driver.get(url + "/#/login")
    wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])
    wait.until(EC.presence_of_element_located((By.ID, "login-username"))).send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "whoami-user").text == user)


def browser():
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--lang=en-US"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    driver_path = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(driver_path), options=options)


class UITests(unittest.TestCase):
    """One daemon and one browser for the whole story, in order (test_NN names)."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(SHOTS, exist_ok=True)
        cls.daemon = Daemon(FILE_JOBS)
        cls.driver = browser()
        cls.wait = WebDriverWait(cls.driver, 20, ignored_exceptions=[StaleElementReferenceException])
        log_in(cls.driver, cls.daemon.url, "admin", ADMIN_PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.daemon.stop()

    # helpers
    def open(self, fragment):
        self.driver.get(self.daemon.url + "/#" + fragment)

    def css(self, selector, root=None):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def until(self, condition, message=""):
        # The pages re-render (on a live tail's end, every 3 s when data changed): an element found a moment
        # before may be replaced; that is a "not yet", not a failure.
        def attempt(_):
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        return self.wait.until(attempt, message)

    def shot(self, name):
        time.sleep(0.3)  # let a refresh settle
        self.driver.execute_script("document.getElementById('flash').replaceChildren()")
        self.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def assert_no_xss(self):
        self.assertIsNone(self.driver.execute_script("return window.__xss"), "markup from data must never run")
        self.assertEqual(self.driver.execute_script("return document.querySelectorAll('main img').length"), 0)

    def row(self, job_id):
        return self.css(f'tr[data-job-id="{job_id}"]')

    def row_text(self, job_id):
        """The row's text, read again if the page refreshed it meanwhile."""
        for _ in range(20):
            try:
                return self.row(job_id).text
            except StaleElementReferenceException:
                time.sleep(0.05)
        return self.row(job_id).text

    def act(self, job_id, action):
        """Clicks a row's action button (the list refreshes itself, so the element is found afresh)."""
        def attempt():
            try:
                self.row(job_id).find_element(By.CSS_SELECTOR, f'[data-action="{action}"]').click()
                return True
            except StaleElementReferenceException:
                return False
        self.until(attempt, f"{action} on {job_id}")

    # the story
    def test_01_jobs_page_lists_file_jobs_and_shows_markup_as_text(self):
        self.open("/jobs")
        row = self.row("xss")
        self.assertEqual(row.find_element(By.CSS_SELECTOR, ".job-name").text, XSS_NAME)
        self.assert_no_xss()
        report = self.row("nightly-report")
        self.assertIn("At 02:30", report.text)
        self.assertIn("America/New_York", report.text)
        self.assertIn("jobs.d/jobs.toml", report.text)
        self.assertEqual(report.find_elements(By.CSS_SELECTOR, '[data-action="edit"]'), [], "file jobs are read-only")
        self.assertIn("4 total", self.css("#job-counts").text)
        self.shot("jobs")

    def test_02_editor_shows_schedule_errors_at_the_field_then_creates_the_job(self):
        self.open("/jobs/new")
        self.css("#field-job_id").send_keys("ui-job")
        self.css("#field-name").send_keys("UI job")
        schedule = self.css("#field-schedule")
        schedule.send_keys("61 * * * *")
        error = self.css("#error-schedule")
        self.until(lambda: "minute: 61 is out of range 0-59" in error.text, "the API's message at the field")
        schedule.send_keys(Keys.CONTROL, "a")
        schedule.send_keys("*/5 * * * *")
        self.until(lambda: self.driver.find_element(By.ID, "error-schedule").text == "")
        description = self.css("#schedule-description")
        self.until(lambda: "Every 5 minutes" in description.text)
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#schedule-next li")), 5)
        self.css("#field-command").send_keys("for i in 1 2 3; do echo tick $i; sleep 1; done")
        if ROOT_DAEMON:
            self.css("#field-user").send_keys("root")
        # A bad value the server rejects: its message lands next to its field.
        self.css("#field-timeout").send_keys("5x")
        self.css("#save").click()
        timeout_error = self.css("#error-timeout")
        self.until(lambda: "duration" in timeout_error.text.lower() or "5x" in timeout_error.text)
        self.shot("editor")
        timeout = self.css("#field-timeout")
        timeout.send_keys(Keys.CONTROL, "a")
        timeout.send_keys("1m")
        self.css("#save").click()
        self.until(lambda: self.driver.current_url.endswith("#/jobs/ui-job"), "lands on the job")
        self.until(lambda: "UI job" in self.css("h1").text)
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#next-times li")), 10)

    def test_03_list_run_now_and_live_output(self):
        self.open("/jobs")
        row = self.row("ui-job")
        self.assertIn("*/5 * * * *", row.text)
        self.act("ui-job", "run")
        execution = None
        deadline = time.time() + 10
        while execution is None and time.time() < deadline:
            found = self.daemon.api("GET", "/api/v1/executions?job_id=ui-job&limit=1")["executions"]
            execution = found[0]["execution_id"] if found else None
            time.sleep(0.1)
        self.assertIsNotNone(execution)
        self.open(f"/executions/{execution}")
        stdout = self.css("#output-stdout")
        self.until(lambda: "tick 1" in stdout.text, "output appears while the run goes on")
        self.assertNotIn("tick 3", stdout.text, "seen live, before the end")
        self.assertTrue(self.driver.find_elements(By.ID, "stop"), "a Stop button while running")
        self.shot("execution-live")
        self.until(lambda: "tick 3" in self.css("#output-stdout").text)
        self.until(lambda: "succeeded" in self.css("h1").text, "the end is shown without a reload")
        self.until(lambda: self.css("#result").text == "exit status 0", "the result is shown")
        node = self.daemon.api("GET", f"/api/v1/executions/{execution}")["node"]
        self.assertTrue(self.css("#node").text.startswith(node + " "), "the node that ran it is shown")

    def test_04_pause_and_resume(self):
        self.open("/jobs")
        self.act("ui-job", "pause")
        self.until(lambda: 'data-action="resume"' in self.row("ui-job").get_attribute("innerHTML"))
        self.until(lambda: "paused" in self.row_text("ui-job"))
        self.until(lambda: "1 paused" in self.css("#job-counts").text)
        self.act("ui-job", "resume")
        self.until(lambda: 'data-action="pause"' in self.row("ui-job").get_attribute("innerHTML"))
        self.until(lambda: "0 paused" in self.css("#job-counts").text)

    def test_04b_edit_records_a_diff_and_dst_changes_are_marked(self):
        self.open("/jobs/ui-job/edit")
        name = self.css("#field-name")
        self.until(lambda: name.get_attribute("value") == "UI job", "the form is filled from the job")
        self.until(lambda: "Every 5 minutes" in self.css("#schedule-description").text)
        name.send_keys(Keys.CONTROL, "a")
        name.send_keys("UI job, renamed")
        self.css("#save").click()
        self.until(lambda: "UI job, renamed" in self.css("h1").text)
        entries = self.daemon.api("GET", "/api/v1/logs?job_id=ui-job")["logs"]
        modified = [e for e in entries if e["event"] == "modified"]
        self.assertEqual(modified[0]["description"], 'name: "UI job" → "UI job, renamed"')
        # A monthly job in New York crosses the spring change within its next 10 runs (Dec–Sep): marked once.
        self.open("/jobs/monthly-ny")
        self.until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "#next-times li")) == 10)
        # Read in one go in the page: it re-renders every few seconds, so elements found a moment before go stale.
        marks = lambda: self.driver.execute_script(
            "return [...document.querySelectorAll('#next-times .dst')].map((e) => e.textContent)")
        self.until(lambda: len(marks()) == 1, "one mark, between the March and April runs")
        self.assertIn("-05:00 → -04:00", marks()[0])
        self.assertIn("Defined in jobs.d/jobs.toml", self.css(".note").text)

    def test_05_stop_a_long_run(self):
        self.daemon.api("POST", "/api/v1/jobs", {"job_id": "sleeper", "schedule": "@yearly", "command": "sleep 300",
                                                 **({"user": "root"} if ROOT_DAEMON else {})})
        self.open("/jobs/sleeper")
        self.until(lambda: self.css('[data-action="run"]').click() or True)
        self.until(lambda: "running" in self.css('tr[data-execution-id]').text)
        self.until(lambda: self.css('tr[data-execution-id] a').click() or True)
        # The page re-renders as the run's record fills in (pid, start): click whichever Stop button is there.
        self.until(lambda: self.css("#stop").click() or True)
        self.until(lambda: "stopped" in self.css("h1").text)
        self.until(lambda: "signal 15" in self.css("#result").text, "stopped by SIGTERM")

    def test_06_audit_log_has_every_change(self):
        self.open("/audit")
        table = self.css("#audit-table")
        self.until(lambda: "sleeper" in table.text)
        # Read in one go in the page: it re-renders every few seconds, so rows found a moment before go stale.
        rows = self.driver.execute_script(
            "return [...document.querySelectorAll('#audit-table tr[data-event]')]"
            ".map((r) => [r.dataset.event, r.querySelectorAll('td')[1].textContent])")
        events = [event for event, _ in rows]
        for event in ["added", "custom_run", "paused", "resumed", "stopped", "login"]:
            self.assertIn(event, events)
        users = {user for _, user in rows}
        self.assertIn("admin", users, "the browser's acts are the logged-in user's")
        self.assertIn("token:ui-test", users, "the test's API calls are its token's")
        self.shot("audit")

    def test_07_executions_page_filters(self):
        self.open("/executions")
        self.until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "tr[data-execution-id]")) >= 2)
        Select(self.css("#filter-state")).select_by_value("stopped")
        self.until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "tr[data-execution-id]")) == 1)
        self.assertIn("sleeper", self.css("tr[data-execution-id]").text)
        Select(self.css("#filter-state")).select_by_value("")
        self.until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "tr[data-execution-id]")) >= 2)
        self.shot("executions")
        self.open("/jobs/ui-job")
        self.css("svg.chart circle")
        self.shot("job")

    def test_08_output_with_markup_stays_inert(self):
        run = self.daemon.api("POST", "/api/v1/executions/xss")
        self.open(f"/executions/{run['execution_id']}")
        stdout = self.css("#output-stdout")
        self.until(lambda: "<script>" in stdout.text)
        self.assertIn("<script>window.__xss=2</script><b>bold?</b>", stdout.text)
        self.assert_no_xss()
        self.open("/jobs/xss")
        self.until(lambda: XSS_NAME in self.css("h1").text)
        self.assert_no_xss()

    def test_09_one_mebibyte_of_output_renders_without_freezing(self):
        run = self.daemon.api("POST", "/api/v1/executions/big-output")
        execution = run["execution_id"]
        self.until(lambda: self.daemon.api("GET", f"/api/v1/executions/{execution}")["state"] == "succeeded")
        started = time.time()
        self.open(f"/executions/{execution}")
        self.until(lambda: "END" in self.driver.execute_script(
            "return document.getElementById('output-stdout')?.textContent.slice(-10) || ''"))
        rendered = time.time() - started
        length = self.driver.execute_script("return document.getElementById('output-stdout').textContent.length")
        self.assertGreaterEqual(length, 1 << 20)
        # The page still answers at once.
        probe = time.time()
        self.driver.execute_script("return 1")
        self.assertLess(time.time() - probe, 1.0)
        print(f"\n  1 MiB output rendered in {rendered:.2f} s")
        self.assertLess(rendered, 10)

    def test_10_delete_from_the_list(self):
        self.open("/jobs")
        self.act("ui-job", "delete")
        self.wait.until(EC.alert_is_present()).accept()
        self.until(lambda: not self.driver.find_elements(By.CSS_SELECTOR, 'tr[data-job-id="ui-job"]'))
        self.open("/audit")
        self.until(lambda: "deleted" in [r.get_attribute("data-event") for r in
                                         self.driver.find_elements(By.CSS_SELECTOR, "#audit-table tr[data-event]")])

    def test_11_phone_width_dark_mode_and_keyboard(self):
        self.driver.set_window_size(390, 844)
        try:
            self.open("/jobs")
            self.row("nightly-report")
            self.assertLessEqual(self.driver.execute_script("return document.body.scrollWidth"), 390 + 1,
                                 "no sideways scrolling of the page (tables scroll in their box)")
            self.shot("jobs-phone")
        finally:
            self.driver.set_window_size(1280, 900)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                    {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        self.open("/jobs")
        self.row("nightly-report")
        background = self.driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        self.assertNotEqual(background, "rgb(255, 255, 255)", "dark colours in dark mode")
        self.shot("jobs-dark")
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        # The keyboard reaches the search box and the first job link.
        body = self.driver.find_element(By.TAG_NAME, "body")
        reached = set()
        for _ in range(12):
            body.send_keys(Keys.TAB) if not reached else self.driver.switch_to.active_element.send_keys(Keys.TAB)
            active = self.driver.switch_to.active_element
            reached.add(active.get_attribute("id") or active.get_attribute("class") or active.tag_name)
        self.assertIn("job-search", reached)

    def test_12_execution_page_lists_notifications_with_retry(self):
        self.daemon.api("POST", "/api/v1/jobs", {
            "job_id": "ui-notify", "schedule": "@yearly", "command": "echo failing; exit 2",
            "on_failure": {"command": "echo receiver down >&2; exit 1"},
            **({"user": "root"} if ROOT_DAEMON else {})})
        execution = self.daemon.api("POST", "/api/v1/executions/ui-notify")["execution_id"]
        deadline = time.time() + 15
        while time.time() < deadline:
            own = self.daemon.api("GET", f"/api/v1/executions/{execution}").get("notifications", [])
            if own and own[0]["attempts"] >= 1:
                break
            time.sleep(0.1)
        self.open(f"/executions/{execution}")
        section = self.css("#notifications h2")
        self.assertEqual(section.text, "Notifications")
        row = self.css("#notifications tr[data-notification-id]")
        self.until(lambda: "execution.failed" in self.css("#notifications tr[data-notification-id]").text)
        text = self.css("#notifications tr[data-notification-id]").text
        self.assertIn("command", text)
        self.assertIn("failed", text)
        self.assertIn("command exited with status 1", text)
        self.css("#notifications button.retry").click()
        self.until(lambda: "Retrying" in self.css("#flash").text, "the retry is acknowledged")
        self.until(lambda: self.daemon.api("GET", f"/api/v1/executions/{execution}")["notifications"][0]["attempts"]
                   >= 2, "the retry was attempted")
        self.shot("execution-notifications")

    def test_13_health_badge_filter_count_and_editor_keys(self):
        self.daemon.api("POST", "/api/v1/jobs", {
            "job_id": "ui-health", "schedule": "@yearly", "command": "exit 3", "alert_after_failures": 1,
            "on_failure": {"command": "true"}, **({"user": "root"} if ROOT_DAEMON else {})})
        self.daemon.api("POST", "/api/v1/executions/ui-health")
        deadline = time.time() + 15
        while time.time() < deadline and self.daemon.api("GET", "/api/v1/jobs/ui-health")["health"]["state"] != "down":
            time.sleep(0.1)
        self.assertEqual(self.daemon.api("GET", "/api/v1/jobs/ui-health")["health"]["state"], "down")
        self.open("/jobs")
        self.until(lambda: self.row("ui-health").find_elements(By.CSS_SELECTOR, '[data-health="down"]'),
                   "a down badge in the row")
        count = self.css('#job-counts [data-count="health-down"]')
        self.assertIn("1 down", count.text)
        count.click()
        self.until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "#jobs-table tbody tr[data-job-id]")) == 1,
                   "the count filters the list")
        self.assertEqual(self.css("#jobs-table tbody tr[data-job-id]").get_attribute("data-job-id"), "ui-health")
        self.assertEqual(self.css("#job-health").get_attribute("value"), "down")
        self.shot("jobs-health")
        self.open("/jobs/ui-health")
        self.until(lambda: self.css("#job-health").get_attribute("data-health") == "down")
        self.assertIn("1 failing run", self.css("#job-health").text)
        self.open("/jobs/ui-health/edit")
        failures = self.css("#field-alert_after_failures")
        self.until(lambda: failures.get_attribute("value") == "1", "the form shows alert_after_failures")
        self.assertEqual(self.css("#field-on_failure").get_attribute("value"), "")
        max_age = self.css("#field-max_age")
        max_age.send_keys("26h")
        self.css("#save").click()
        self.until(lambda: self.daemon.api("GET", "/api/v1/jobs/ui-health")["max_age"] == "1d2h", "max_age saved")
        saved = self.daemon.api("GET", "/api/v1/jobs/ui-health")
        self.assertEqual(saved["on_failure"], {"command": "true"}, "the hook set through the API is kept")
        self.assertEqual(saved["alert_after_failures"], 1)


class AccessTests(unittest.TestCase):
    """Authentication end to end in a browser: the first admin through the one-time setup URL on a locked daemon,
    then users of each role made by that admin; a viewer cannot run, an operator can, and the audit log names
    each."""

    def test_setup_roles_and_audit(self):
        daemon = Daemon('[job.report]\nschedule = "@yearly"\ncommand = "echo report"\n', users=False)
        driver = browser()
        wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])
        try:
            # Locked: the API refuses, and any page leads to the setup form.
            with self.assertRaises(urllib.error.HTTPError) as refused:
                daemon.api("GET", "/api/v1/jobs")
            self.assertEqual(refused.exception.code, 401)
            code_path = os.path.join(daemon.dir, "data", "setup-code")
            wait.until(lambda _: os.path.exists(code_path))
            self.assertEqual(os.stat(code_path).st_mode & 0o777, 0o600)
            with open(code_path) as f:
                code = f.read().strip()
            driver.get(daemon.url + "/#/setup?code=" + code)
            wait.until(EC.presence_of_element_located((By.ID, "setup-password"))).send_keys("first-admin-pw")
            driver.find_element(By.ID, "setup-username").clear()
            driver.find_element(By.ID, "setup-username").send_keys("alice")
            driver.find_element(By.ID, "setup-submit").click()
            wait.until(lambda d: d.find_element(By.ID, "whoami-user").text == "alice")
            self.assertFalse(os.path.exists(code_path), "the code works once")
            # Alice (admin) makes an operator and a viewer through the API, with her session (the page's fetch).
            for name, role in [("olivia", "operator"), ("victor", "viewer")]:
                status = driver.execute_async_script("""
                    const done = arguments[arguments.length - 1];
                    fetch('/api/v1/users', {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({name: arguments[0], role: arguments[1], password: arguments[0] + '-password'})})
                      .then(r => done(r.status));""", name, role)
                self.assertEqual(status, 201)
            driver.find_element(By.ID, "logout").click()
            wait.until(lambda d: d.current_url.endswith("#/login"))

            # A viewer sees the job but is offered no Run button, and the server refuses the run anyway.
            log_in(driver, daemon.url, "victor", "victor-password")
            driver.get(daemon.url + "/#/jobs/report")
            wait.until(lambda d: "report" in d.find_element(By.TAG_NAME, "h1").text)
            self.assertFalse(driver.find_element(By.CSS_SELECTOR, '[data-action="run"]').is_displayed())
            status = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                fetch('/api/v1/executions/report', {method: 'POST'}).then(r => done(r.status));""")
            self.assertEqual(status, 403)
            driver.find_element(By.ID, "logout").click()
            wait.until(lambda d: d.current_url.endswith("#/login"))

            # An operator runs it from the job page.
            log_in(driver, daemon.url, "olivia", "olivia-password")
            driver.get(daemon.url + "/#/jobs/report")
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-action="run"]').is_displayed())
            driver.find_element(By.CSS_SELECTOR, '[data-action="run"]').click()
            wait.until(lambda d: "succeeded" in d.find_element(By.CSS_SELECTOR, "tr[data-execution-id]").text)
            self.assertFalse(driver.find_element(By.ID, "add-job").is_displayed(), "an operator adds no jobs")

            # The audit log, as alice: who did what.
            driver.find_element(By.ID, "logout").click()
            wait.until(lambda d: d.current_url.endswith("#/login"))
            log_in(driver, daemon.url, "alice", "first-admin-pw")
            driver.get(daemon.url + "/#/audit")
            wait.until(lambda d: "custom_run" in d.find_element(By.ID, "audit-table").text)
            # Read in one go (the page re-renders itself every few seconds).
            rows = driver.execute_script(
                "return [...document.querySelectorAll('#audit-table tr[data-event]')]"
                ".map(r => [...r.cells].map(c => c.textContent))")
            by_event = {}
            for row in rows:
                by_event.setdefault(row[2], set()).add(row[1])
            self.assertEqual(by_event.get("custom_run"), {"olivia"})
            self.assertIn("alice", by_event.get("setup_completed", set()))
            self.assertEqual(by_event.get("user_added"), {"alice"})
            self.assertTrue({"alice", "victor", "olivia"} <= by_event.get("login", set()))
            self.assertTrue(all(row[5] == "127.0.0.1" for row in rows if row[2] in ("login", "custom_run")))
            # No secret reached the daemon's log.
            with open(os.path.join(daemon.dir, "serve.log")) as f:
                log = f.read()
            for secret in ["first-admin-pw", "olivia-password", "victor-password", code]:
                self.assertNotIn(secret, log)
        finally:
            driver.quit()
            daemon.stop()


class DependencyTests(unittest.TestCase):
    """`after` in the browser: the jobs list shows what a job waits on, the job page both directions with links, the
    editor offers the keys; an upstream's run triggers its dependent."""

    def test_waiting_on_both_directions_and_the_editor(self):
        daemon = Daemon("""
[job.extract]
schedule = "@yearly"
command = "echo extract"

[job.load]
schedule = "@yearly"
command = "echo load"

[job.report]
after = ["extract", "load"]
command = "echo report"
""")
        driver = browser()
        wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])

        def text_of(selector):
            try:
                return driver.find_element(By.CSS_SELECTOR, selector).text
            except Exception:
                return ""

        try:
            log_in(driver, daemon.url, "admin", ADMIN_PASSWORD)
            driver.get(daemon.url + "/#/jobs")
            wait.until(lambda d: "waiting on extract, load" in text_of('tr[data-job-id="report"]'))
            self.assertIn("after extract, load", text_of('tr[data-job-id="report"]'))
            # extract succeeds: the list now waits on load only.
            daemon.api("POST", "/api/v1/executions/extract")
            wait.until(lambda d: "waiting on load" in text_of('tr[data-job-id="report"]')
                       and "extract," not in text_of('tr[data-job-id="report"] [data-waiting-on]'))

            # The job page: upstreams with their state, and the link to each.
            driver.get(daemon.url + "/#/jobs/report")
            wait.until(lambda d: "satisfied" in text_of('#upstream li[data-job-id="extract"]'))
            self.assertIn("waiting", text_of('#upstream li[data-job-id="load"]'))
            self.assertIn("never", text_of('#upstream li[data-job-id="load"]'))
            driver.find_element(By.CSS_SELECTOR, '#upstream li[data-job-id="extract"] a').click()
            # The upstream's page lists its dependent, linked back.
            wait.until(lambda d: d.current_url.endswith("#/jobs/extract")
                       and "report" in text_of('#downstream li[data-job-id="report"]'))
            driver.find_element(By.CSS_SELECTOR, '#downstream li[data-job-id="report"] a').click()
            wait.until(lambda d: d.current_url.endswith("#/jobs/report"))

            # load succeeds: report runs, triggered by its dependencies.
            daemon.api("POST", "/api/v1/executions/load")
            deadline = time.time() + 20
            triggers = []
            while time.time() < deadline:
                runs = daemon.api("GET", "/api/v1/executions?job_id=report")["executions"]
                triggers = [(e["trigger"], e["state"]) for e in runs]
                if ("dependency", "succeeded") in triggers:
                    break
                time.sleep(0.2)
            self.assertEqual(triggers, [("dependency", "succeeded")])

            # The editor offers the keys; a job made with them is triggered, and a cycle is refused at the field.
            driver.get(daemon.url + "/#/jobs/new")
            wait.until(EC.presence_of_element_located((By.ID, "field-after")))
            driver.find_element(By.ID, "field-job_id").send_keys("publish")
            driver.find_element(By.ID, "field-after").send_keys("report")
            driver.find_element(By.ID, "field-command").send_keys("echo publish")
            driver.find_element(By.ID, "field-user").send_keys("root")
            driver.find_element(By.ID, "save").click()
            wait.until(lambda d: d.current_url.endswith("#/jobs/publish"))
            self.assertEqual(daemon.api("GET", "/api/v1/jobs/publish")["after"], ["report"])
            wait.until(lambda d: "report" in text_of('#upstream li[data-job-id="report"]'))
            driver.get(daemon.url + "/#/jobs/publish/edit")
            wait.until(lambda d: d.find_element(By.ID, "field-after").get_attribute("value") == "report")
            field = driver.find_element(By.ID, "field-after")
            field.clear()
            field.send_keys("report, publish")
            driver.find_element(By.ID, "save").click()
            wait.until(lambda d: "cycle publish → publish" in text_of("#error-after"))
        finally:
            driver.quit()
            daemon.stop()


CLUSTER_SHARED = """
[job.shared]
schedule = "@yearly"
command = "true"
"""


def throwaway_database():
    """A new, empty database on the throwaway PostgreSQL server of TOCK_TEST_DATABASE (scripts/test starts one), and
    a function that drops it; (None, None) when no server is named."""
    url = os.environ.get("TOCK_TEST_DATABASE")
    if not url:
        return None, None
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql")) or [shutil.which("psql")]
    base = url.split("?")[0]
    name = "tock_ui_" + uuid.uuid4().hex[:12]

    def sql(statement):
        subprocess.run([psql[-1], base, "-q", "-c", statement], check=True, capture_output=True, timeout=30)

    sql(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name + "?sslmode=disable", lambda: sql(f"DROP DATABASE IF EXISTS {name}")


class ClusterTests(unittest.TestCase):
    """The cluster page. With TOCK_TEST_DATABASE (as CI runs it): two real nodes on one PostgreSQL database whose
    jobs.d differ: both nodes listed, the mismatches shown (cluster page and job page), then one node stops and is
    shown as left, and the mismatches go. Without: a single daemon on SQLite, one node and no mismatch."""

    def setUp(self):
        os.makedirs(SHOTS, exist_ok=True)
        self.daemons = []
        self.driver = browser()
        self.wait = WebDriverWait(self.driver, 30, ignored_exceptions=[StaleElementReferenceException])

    def tearDown(self):
        self.driver.quit()
        for daemon in self.daemons:
            daemon.stop()

    def row_state(self, node):
        try:
            rows = self.driver.find_elements(By.CSS_SELECTOR, f'#nodes-table tr[data-node="{node}"]')
            return rows[0].get_attribute("data-state") if rows else None
        except StaleElementReferenceException:
            return None

    def test_cluster_page(self):
        database, drop = throwaway_database()
        if database is None:
            self.single_node()
            return
        try:
            self.two_nodes(database)
        finally:
            for daemon in self.daemons:
                daemon.stop()
            self.daemons = []
            drop()

    def single_node(self):
        daemon = Daemon(FILE_JOBS)
        self.daemons.append(daemon)
        log_in(self.driver, daemon.url, "admin", ADMIN_PASSWORD)
        self.driver.get(daemon.url + "/#/cluster")
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#nodes-table tr[data-state="alive"]')))
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#nodes-table tbody tr")), 1)
        self.assertEqual(self.driver.find_element(By.CSS_SELECTOR, "#nodes-table .job-count").text, "4")
        self.assertIn("sqlite", self.driver.find_element(By.ID, "cluster-summary").text)
        self.driver.find_element(By.ID, "no-mismatches")
        self.assertIn("active", self.driver.find_element(By.CSS_SELECTOR, '[data-nav="cluster"]').get_attribute("class"))

    def two_nodes(self, database):
        config = 'lease_ttl = "6s"\n'
        a = Daemon(CLUSTER_SHARED + '[job.differs]\nschedule = "@daily"\ncommand = "echo one"\n',
                   database=database, node="ui-a", config=config)
        self.daemons.append(a)
        b = Daemon(CLUSTER_SHARED + '[job.differs]\nschedule = "@daily"\ncommand = "echo two"\n'
                   + '[job.only-b]\nschedule = "@hourly"\ncommand = "true"\n',
                   users=False, token=a.token, database=database, node="ui-b", config=config)
        self.daemons.append(b)
        deadline = time.time() + 30
        while time.time() < deadline:
            cluster = a.api("GET", "/api/v1/cluster")
            if [m["job_id"] for m in cluster["definition_mismatches"]] == ["differs", "only-b"]:
                break
            time.sleep(0.3)
        self.assertEqual([m["job_id"] for m in cluster["definition_mismatches"]], ["differs", "only-b"], cluster)
        self.assertEqual(cluster["store"], "postgresql")

        log_in(self.driver, a.url, "admin", ADMIN_PASSWORD)
        self.driver.get(a.url + "/#/cluster")
        self.wait.until(lambda d: self.row_state("ui-a") == "alive" and self.row_state("ui-b") == "alive")
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#mismatch-table tr[data-job="differs"]')))
        text = self.driver.find_element(By.CSS_SELECTOR, '#mismatch-table tr[data-job="only-b"]').text
        self.assertIn("ui-a: absent", text)
        offset = self.driver.find_element(By.CSS_SELECTOR, '#nodes-table tr[data-node="ui-a"] .clock-offset').text
        self.assertRegex(offset, r"^[+−]\d")
        self.driver.save_screenshot(os.path.join(SHOTS, "cluster.png"))
        # The job page says so too.
        self.driver.get(a.url + "/#/jobs/differs")
        note = self.wait.until(EC.presence_of_element_located((By.ID, "definition-mismatch")))
        self.assertIn("ui-b", note.text)
        # b stops: shown as left, and nothing is compared any more.
        b.stop()
        self.daemons.remove(b)
        self.driver.get(a.url + "/#/cluster")
        self.wait.until(lambda d: self.row_state("ui-b") == "left")
        self.wait.until(EC.presence_of_element_located((By.ID, "no-mismatches")))
        self.assertEqual(self.row_state("ui-a"), "alive")


class OpenAPIDocumentTests(unittest.TestCase):
    """The served OpenAPI document is valid OpenAPI 3 (openapi-spec-validator from PyPI)."""

    def test_served_document_validates(self):
        from openapi_spec_validator import validate
        daemon = Daemon("")
        try:
            document = daemon.api("GET", "/api/v1/openapi.json")
            validate(document)
            self.assertIn("/api/v1/jobs", document["paths"])
        finally:
            daemon.stop()


class ManyJobsTests(unittest.TestCase):
    """The jobs page with 10,000 jobs stays responsive (it pages on the server)."""

    def test_ten_thousand_jobs(self):
        jobs = "".join(f'[job.j{n:05d}]\nschedule = "{n % 60} {n % 24} * * *"\ncommand = "echo {n}"\n\n'
                       for n in range(10_000))
        daemon = Daemon(jobs)
        driver = browser()
        try:
            wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
            log_in(driver, daemon.url, "admin", ADMIN_PASSWORD)
            started = time.time()
            driver.get(daemon.url + "/#/jobs")
            wait.until(lambda d: "10000 total" in d.find_element(By.ID, "job-counts").text)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-job-id]")) == 50)
            first = time.time() - started
            self.assertIn("of 10000", driver.find_element(By.ID, "jobs-range").text)
            started = time.time()
            driver.find_element(By.ID, "job-search").send_keys("j09999")
            wait.until(lambda d: [r.get_attribute("data-job-id") for r in d.find_elements(By.CSS_SELECTOR, "tr[data-job-id]")] == ["j09999"])
            searched = time.time() - started
            print(f"\n  10,000 jobs: first page in {first:.2f} s, search in {searched:.2f} s")
            self.assertLess(first, 15)
            self.assertLess(searched, 5)
        finally:
            driver.quit()
            daemon.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
