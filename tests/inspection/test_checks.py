"""The checklist of a sampled archive: saved by the archivist, 409 on a stale form, read by others."""
from __future__ import annotations

import inspection_helpers as ih

from portal.extensions import db


def test_archivist_saves_the_checklist_and_it_is_registered(make_archive, user, login, register_entries):
    archive = ih.filed(make_archive, 1, paper_room="一号库房", paper_cabinet="A柜")[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    client = login("archivist")
    page = ih.text(client.get(f"/inspections/samples/{sample.id}"))
    # what helps the checker: paper location, electronic count, completeness, the checklist in Chinese
    assert "一号库房 / A柜" in page and "电子材料份数" in page and "完整度" in page
    for label in ("纸质与电子档案一致", "基础信息完整", "合同等关键材料齐全", "命名规范", "密级标注正确",
                  "借阅/变更手续完整"):
        assert label in page
    form = ih.form_for(sample, {"materials": ("nonconform", "缺少2025年续约合同"),
                                "procedures": ("na", "")}, paper_count="0")
    response = client.post(f"/inspections/samples/{sample.id}/check", data=form)
    assert response.status_code == 303
    sample = ih.sample_of(inspection, archive)
    results = {c.key: (c.result, c.note) for c in sample.checks}
    assert results["materials"] == ("nonconform", "缺少2025年续约合同") and results["procedures"] == ("na", "")
    assert sample.paper_count == 0 and sample.electronic_count == 0 and sample.completeness is not None
    entry = register_entries(action="inspection_check")[-1]
    assert entry.archive_id == archive.id and "缺少2025年续约合同" in entry.detail
    overview = ih.text(client.get(f"/inspections/{inspection.id}"))
    assert "缺少2025年续约合同" in overview and "发现问题" in overview


def test_a_finding_needs_a_note_and_bad_input_keeps_the_entries(make_archive, user, login):
    archive = ih.filed(make_archive, 1)[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    form = ih.form_for(sample, {"paper": ("nonconform", ""), "profile": ("conform", "电话已核对")},
                       paper_count="abc")
    response = login("archivist").post(f"/inspections/samples/{sample.id}/check", data=form)
    assert response.status_code == 422
    page = ih.text(response)
    assert "请说明不符合之处" in page and "电话已核对" in page
    assert all(c.result == "" for c in ih.sample_of(inspection, archive).checks)  # nothing half-saved


def test_a_stale_form_is_refused_with_409_and_nothing_is_lost(make_archive, user, login):
    archive = ih.filed(make_archive, 1)[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    first = ih.form_for(sample, {"naming": ("nonconform", "合同扫描件命名为 scan001.pdf")})
    stale = ih.form_for(sample, {"naming": ("conform", "我的意见：命名正确")})  # loaded at the same time
    client = login("archivist")
    assert client.post(f"/inspections/samples/{sample.id}/check", data=first).status_code == 303
    response = client.post(f"/inspections/samples/{sample.id}/check", data=stale)
    assert response.status_code == 409
    page = ih.text(response)
    assert "他人已在此期间保存" in page
    assert "我的意见：命名正确" in page  # the user's entry is still in the form
    assert "合同扫描件命名为 scan001.pdf" in page  # and the saved one is shown beside it
    saved = {c.key: c for c in ih.sample_of(inspection, archive).checks}
    assert saved["naming"].note == "合同扫描件命名为 scan001.pdf"
    # the re-shown form carries the current version: saving it again now succeeds
    again = ih.sample_of(inspection, archive)
    assert f'name="version" value="{again.version}"' in page
    response = client.post(f"/inspections/samples/{sample.id}/check", data={**stale, "version": str(again.version)})
    assert response.status_code == 303
    saved = {c.key: c for c in ih.sample_of(inspection, archive).checks}
    assert saved["naming"].note == "我的意见：命名正确"


def test_htmx_conflict_returns_the_checklist_fragment(make_archive, user, login):
    archive = ih.filed(make_archive, 1)[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    stale = ih.form_for(sample)
    client = login("archivist")
    client.post(f"/inspections/samples/{sample.id}/check", data=ih.form_for(sample))
    response = client.post(f"/inspections/samples/{sample.id}/check", data=stale,
                           headers={"HX-Request": "true", "HX-Target": "checklist"})
    assert response.status_code == 409
    page = ih.text(response)
    assert page.lstrip().startswith('<div id="checklist">') and "<html" not in page


def test_supervisor_reads_and_signs_but_does_not_check(make_archive, user, login, register_entries):
    archive = ih.filed(make_archive, 1)[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    client = login("supervisor")
    page = ih.text(client.get(f"/inspections/samples/{sample.id}"))
    assert "检查清单" in page and 'name="result_paper"' not in page
    before = len(register_entries(action="access_denied", username="supervisor"))
    response = client.post(f"/inspections/samples/{sample.id}/check", data=ih.form_for(sample))
    assert response.status_code == 403
    assert len(register_entries(action="access_denied", username="supervisor")) == before + 1
    assert not register_entries(action="inspection_check")


def test_heads_see_only_their_departments_archives(make_archive, user, login, register_entries):
    sales = ih.filed(make_archive, 2, prefix="销售")
    marketing = ih.filed(make_archive, 2, by="staff_marketing", prefix="市场")
    inspection = ih.draw(user, sample="100%")
    page = ih.text(login("head_sales").get(f"/inspections/{inspection.id}"))
    for a in sales:
        assert a.number in page
    for a in marketing:
        assert a.number not in page
    assert "您只能看到本部门的档案" in page
    listing = ih.text(login("head_sales").get("/inspections/"))
    assert inspection.label in listing and "本部门：2" in listing
    # another department's sampled archive: 403 and on the register
    client = login("head_sales")
    other = ih.sample_of(inspection, marketing[0])
    assert client.get(f"/inspections/samples/{other.id}").status_code == 403
    assert register_entries(action="access_denied", username="head_sales")[-1].archive_id == marketing[0].id
    # a head whose department was not sampled cannot open the inspection at all
    only_sales = ih.draw(user, scope=f"department:{ih.dept_id('销售部')}", sample="1")
    assert login("head_marketing").get(f"/inspections/{only_sales.id}").status_code == 403
    assert only_sales.label not in ih.text(login("head_marketing").get("/inspections/"))


def test_staff_cannot_read_inspections(make_archive, user, login, register_entries):
    ih.filed(make_archive, 1)
    inspection = ih.draw(user, sample="1")
    client = login("staff_sales")
    for url in ("/inspections/", f"/inspections/{inspection.id}", f"/inspections/{inspection.id}/print",
                "/inspections/print"):
        assert client.get(url).status_code == 403, url
    assert len(register_entries(action="access_denied", username="staff_sales")) == 4
    assert "/inspections/" not in ih.text(client.get("/archives/"))  # no header link either


def test_checks_of_a_closed_inspection_cannot_change(make_archive, user, login):
    archive = ih.filed(make_archive, 1)[0]
    inspection = ih.draw(user, sample="1")
    sample = ih.sample_of(inspection, archive)
    client = login("archivist")
    client.post(f"/inspections/samples/{sample.id}/check", data=ih.form_for(sample))
    assert client.post(f"/inspections/{inspection.id}/close", data={}).status_code == 303
    sample = ih.sample_of(inspection, archive)
    response = client.post(f"/inspections/samples/{sample.id}/check",
                           data=ih.form_for(sample, {"paper": ("nonconform", "后来发现缺页")}))
    assert response.status_code == 409
    db.session.expire_all()
    assert all(c.result == "conform" for c in ih.sample_of(inspection, archive).checks)


def test_names_of_archives_above_the_readers_clearance_are_not_shown(make_archive, user, login):
    from portal.archives import services as archive_services

    secret = make_archive(status="approved", name="绝密客户集团")
    archive_services.file_archive(ih.as_(user("archivist")), secret, sensitivity=1)
    inspection = ih.draw(user, sample="100%")
    assert "绝密客户集团" in ih.text(login("archivist").get(f"/inspections/{inspection.id}"))
    page = ih.text(login("supervisor").get(f"/inspections/{inspection.id}"))  # clearance 2
    assert "绝密客户集团" not in page and "名称不显示" in page and secret.number in page
    printed = ih.text(login("head_sales").get(f"/inspections/{inspection.id}/print"))
    assert "绝密客户集团" not in printed and secret.number in printed


def test_a_heads_printed_record_holds_only_their_department(make_archive, user, login):
    sales = ih.filed(make_archive, 1, prefix="销售")
    marketing = ih.filed(make_archive, 1, by="staff_marketing", prefix="市场")
    inspection = ih.draw(user, sample="100%")
    printed = ih.text(login("head_sales").get(f"/inspections/{inspection.id}/print"))
    assert sales[0].number in printed and marketing[0].number not in printed
    assert "仅本部门档案" in printed
