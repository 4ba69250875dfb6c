"""Plugin system: install, enable/disable without restart, uninstall (with and without purge)."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.plugins_lifecycle import PluginError, install, set_enabled, states, uninstall
from tests.conftest import login, post_form
from tests.sample_plugin import hooks as sample_hooks


def _tables() -> set[str]:
    return set(sa.inspect(db.session.connection()).get_table_names())


def test_available_but_not_installed(app):
    (state,) = [s for s in states() if s["name"] == "sample"]
    assert state["installed"] is False and state["enabled"] is False
    assert "smp_note" not in _tables()


def test_install_runs_own_migration_and_seed(app, client):
    install("sample")
    assert "smp_note" in _tables()
    assert "alembic_version_sample" in _tables()
    assert ("install", None) in sample_hooks.CALLS
    login(client, "admin@example.com")
    page = client.get("/sample/")
    assert page.status_code == 200
    assert "seeded (default)" in page.get_data(as_text=True)
    dash = client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="sample-portlet"' in dash
    assert 'href="/sample/"' in dash  # menu item


def test_plugin_permission_is_enforced(app, client):
    install("sample")
    login(client, "store1@example.com")
    assert client.get("/sample/").status_code == 403
    assert 'href="/sample/"' not in client.get("/dashboard").get_data(as_text=True)


def test_disable_hides_routes_and_hooks_without_restart(app, client):
    install("sample")
    login(client, "admin@example.com")
    assert client.get("/sample/").status_code == 200
    set_enabled("sample", False)
    assert client.get("/sample/").status_code == 404
    dash = client.get("/dashboard").get_data(as_text=True)
    assert "sample-portlet" not in dash and 'href="/sample/"' not in dash
    sample_hooks.CALLS.clear()
    resp = post_form(client, "/customers/1/complaint", {"complaint": "y", "note": "late delivery"})
    assert resp.status_code == 302
    assert not [c for c in sample_hooks.CALLS if c[0] == "customer_changed"]
    set_enabled("sample", True)
    assert client.get("/sample/").status_code == 200
    post_form(client, "/customers/1/complaint", {"note": ""})
    assert ("customer_changed", 1) in sample_hooks.CALLS


def test_disable_seen_by_a_second_app_instance(app, template_db):
    """Another worker (a second app on the same database) sees the change on its next request."""
    from tests.conftest import make_app

    install("sample")
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.app_context():
        c = other.test_client()
        login(c, "admin@example.com")
        assert c.get("/sample/").status_code == 200
        with app.app_context():
            set_enabled("sample", False)
        assert c.get("/sample/").status_code == 404
        db.session.remove()
        db.engine.dispose()


def test_uninstall_keeps_data_unless_purged(app, client):
    install("sample")
    uninstall("sample", purge=False)
    assert "smp_note" in _tables()
    login(client, "admin@example.com")
    assert client.get("/sample/").status_code == 404
    install("sample")  # reinstall keeps the old notes: migrations are already at head
    assert db.session.execute(sa.text("select count(*) from smp_note")).scalar_one() == 2
    uninstall("sample", purge=True)
    assert "smp_note" not in _tables()
    assert ("uninstall", True) in sample_hooks.CALLS
    install("sample")
    assert db.session.execute(sa.text("select count(*) from smp_note")).scalar_one() == 1


def test_lifecycle_refusals(app):
    try:
        set_enabled("sample", True)
    except PluginError as exc:
        assert "not installed" in str(exc)
    else:
        raise AssertionError("enabling an uninstalled add-on must be refused")
    try:
        install("nope")
    except PluginError as exc:
        assert "No add-on" in str(exc)
    else:
        raise AssertionError


def test_addons_control_panel(app, client):
    login(client, "admin@example.com")
    page = client.get("/manage/addons").get_data(as_text=True)
    assert 'data-testid="addon-sample" data-state="available"' in page
    resp = post_form(client, "/manage/addons/sample", {"action": "install"}, form_page="/manage/addons")
    assert resp.status_code == 302
    assert client.get("/sample/").status_code == 200
    post_form(client, "/manage/addons/sample", {"action": "disable"}, form_page="/manage/addons")
    assert client.get("/sample/").status_code == 404
    post_form(client, "/manage/addons/sample", {"action": "enable"}, form_page="/manage/addons")
    assert client.get("/sample/").status_code == 200
    post_form(client, "/manage/addons/sample", {"action": "uninstall", "purge": "y"}, form_page="/manage/addons")
    assert "smp_note" not in _tables()


def test_addons_panel_is_admin_only(app, client):
    login(client, "hq@example.com")
    assert client.get("/manage/addons").status_code == 403
    assert post_form(client, "/manage/addons/sample", {"action": "install"}).status_code == 403


def test_cli_commands(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "plugins", "list"])
    assert "sample" in result.output and "not installed" in result.output
    assert runner.invoke(args=["portal", "sample", "count"]).exit_code != 0  # not installed yet
    result = runner.invoke(args=["portal", "plugins", "install", "sample"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["portal", "sample", "count"])
    assert result.exit_code == 0 and result.output.strip() == "1"
    assert runner.invoke(args=["portal", "plugins", "disable", "sample"]).exit_code == 0
    assert runner.invoke(args=["portal", "sample", "count"]).exit_code != 0
    assert runner.invoke(args=["portal", "plugins", "enable", "sample"]).exit_code == 0
    result = runner.invoke(args=["portal", "plugins", "uninstall", "sample", "--purge"])
    assert result.exit_code == 0 and "purged" in result.output
    result = runner.invoke(args=["portal", "plugins", "install", "nope"])
    assert result.exit_code != 0 and "No add-on" in result.output
