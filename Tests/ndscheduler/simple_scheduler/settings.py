# ndscheduler settings for the import test (ndscheduler reads NDSCHEDULER_SETTINGS_MODULE=simple_scheduler.settings).
import os
DEBUG = False
HTTP_PORT = int(os.environ.get('NDS_PORT', '18890'))
HTTP_ADDRESS = '127.0.0.1'
JOB_CLASS_PACKAGES = ['simple_scheduler.jobs']
DATABASE_CLASS = 'ndscheduler.core.datastore.providers.sqlite.DatastoreSqlite'
DATABASE_CONFIG_DICT = {'file_path': os.environ['NDS_DB']}
