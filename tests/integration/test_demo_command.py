"""`flask demo-data` loads the demo store once; every console page has something to show."""

import re

from demo.data import DEMO_PASSWORD, demo_logins
from tests.integration.conftest import Browser, new_client


def test_demo_data_loads_once_and_every_page_shows_it(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0, first.output
    assert "Demo store created" in first.output
    again = runner.invoke(args=["demo-data"])
    assert "nothing changed" in again.output
    logins = runner.invoke(args=["demo-logins"])
    assert DEMO_PASSWORD in logins.output and "sales1" in logins.output

    roles = {login.role: login.username for login in demo_logins()}
    assert set(roles) == {"admin", "manager", "cs_agent", "consultant"}

    manager = Browser(new_client(app))
    manager.login(roles["manager"], DEMO_PASSWORD)
    team = manager.get("/console/team").get_data(as_text=True)
    assert "杨静" in team and "15" in team  # her own cap
    customers = manager.get("/console/customers").get_data(as_text=True)
    assert re.search(r"共 \d{3} 位客户", customers)
    first_customer = re.search(r'href="/console/customers/(\d+)"', customers).group(1)
    page = manager.get(f"/console/customers/{first_customer}").get_data(as_text=True)
    assert "历史记录" in page and "tl-visit" in page

    consultant = Browser(new_client(app))
    consultant.login("sales1", DEMO_PASSWORD)
    home = consultant.get("/console/").get_data(as_text=True)
    active = re.search(r'stat-num">(\d+)</span><span class="stat-label">在跟客户', home)
    assert int(active.group(1)) > 0

    admin = Browser(new_client(app))
    admin.login(roles["admin"], DEMO_PASSWORD)
    system = admin.get("/console/system").get_data(as_text=True)
    assert system.count("夜间批处理") >= 29  # the last 30 runs
