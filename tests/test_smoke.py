"""The app starts, the log-in page is Chinese, and the register records a log-in."""


def test_login_page_is_chinese(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.get_data(as_text=True)


def test_filed_archive_gets_policy_number(make_archive, register_entries):
    archive = make_archive(status="filed")
    assert archive.number.startswith("海外-") and archive.number.endswith("-电商-001")
    assert [e.action for e in register_entries(archive_id=archive.id)] == [
        "archive_create", "archive_submit", "archive_approve", "archive_file"]
