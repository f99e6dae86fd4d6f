"""The checker's web page of the governance API (server-rendered, no JavaScript).

`mount_checker_page(app, store)` adds it under /ui; `governance.api.create_app` does so.
"""

from aurora_pipelines.governance.web.routes import mount_checker_page
from aurora_pipelines.governance.web.templating import UI_PREFIX

__all__ = ["UI_PREFIX", "mount_checker_page"]
