"""Drawing the quarterly sample: reproducible, recorded, within scope, archivist only."""
from __future__ import annotations

import hashlib
import random

import inspection_helpers as ih
import sqlalchemy as sa

from portal.archives.models import Archive
from portal.extensions import db
from portal.inspection import services as svc


def test_same_seed_and_population_give_the_same_sample(make_archive, user):
    archives = ih.filed(make_archive, 12)
    first = ih.draw(user, sample="5", seed="quarter-4-2026")
    again = ih.draw(user, sample="5", seed="quarter-4-2026")
    other = ih.draw(user, sample="5", seed="another-seed")
    drawn = [s.archive_id for s in first.samples]
    assert len(drawn) == 5 and set(drawn) <= {a.id for a in archives}
    assert [s.archive_id for s in again.samples] == drawn
    # a different seed gives a different sample (the chance of the same ordered draw is 1 in 95 040)
    assert [s.archive_id for s in other.samples] != drawn
    # what anyone can redo from the record: Python's random with the seed over the sorted ids
    ids = sorted(a.id for a in archives)
    assert random.Random("quarter-4-2026").sample(ids, 5) == drawn
    assert svc.draw_sample("quarter-4-2026", list(reversed(ids)), 5) == drawn


def test_population_count_hash_and_seed_are_recorded_and_shown(make_archive, user, login, register_entries):
    archives = ih.filed(make_archive, 4)
    inspection = ih.draw(user, sample="3", seed="778899")
    ids = sorted(a.id for a in archives)
    assert inspection.population_count == 4
    assert inspection.population_hash == hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
    assert inspection.ids == ids
    entry = register_entries(action="inspection_draw")[-1]
    assert entry.username == "archivist" and "778899" in entry.detail and inspection.population_hash in entry.detail
    page = ih.text(login("supervisor").get(f"/inspections/{inspection.id}"))
    assert "复现抽样" in page and "778899" in page and inspection.population_hash in page
    assert "identical" not in page and "重新抽取结果一致" in page
    assert 'random.Random(&#34;778899&#34;).sample(ids, 3)' in page or 'random.Random("778899")' in page


def test_scope_by_department_and_by_customer_type(make_archive, user):
    sales = ih.filed(make_archive, 3, prefix="销售")
    marketing = ih.filed(make_archive, 2, by="staff_marketing", prefix="市场")
    trade = ih.filed(make_archive, 2, prefix="外贸", type_code="外贸")
    by_dept = ih.draw(user, scope=f"department:{ih.dept_id('市场部')}", sample="100%")
    assert {s.archive_id for s in by_dept.samples} == {a.id for a in marketing}
    assert by_dept.scope_label == "市场部" and by_dept.population_count == 2
    type_id = trade[0].customer_type_id
    by_type = ih.draw(user, scope=f"customer_type:{type_id}", sample="10")
    assert {s.archive_id for s in by_type.samples} == {a.id for a in trade}
    everything = ih.draw(user, sample="100%")
    assert {s.archive_id for s in everything.samples} == {a.id for a in sales + marketing + trade}


def test_destroyed_and_unfiled_archives_are_never_drawn(make_archive, user):
    filed = ih.filed(make_archive, 2)
    for status in ("draft", "submitted", "approved", "rejected"):
        make_archive(status=status, name=f"未归档{status}")
    gone = ih.filed(make_archive, 1, prefix="已销毁")[0]
    gone.status = "destroyed"  # what destruction leaves: a tombstone
    db.session.commit()
    inspection = ih.draw(user, sample="100%")
    assert {s.archive_id for s in inspection.samples} == {a.id for a in filed}
    assert gone.id not in inspection.ids
    unfiled = db.session.scalars(sa.select(Archive.id).where(Archive.status != "filed"))
    assert not set(unfiled) & set(inspection.ids)


def test_sample_size_as_percentage_and_the_administrators_default(make_archive, user, login, register_entries):
    ih.filed(make_archive, 7)
    assert ih.draw(user, sample="30%").sample_size == 3  # 2.1 rounds up
    assert ih.draw(user, sample="50").sample_size == 7  # never more than the population
    archivist = login("archivist")
    assert 'name="sample" value="10"' in ih.text(archivist.get("/inspections/new"))
    admin = login("admin")
    assert admin.post("/inspections/settings", data={"sample_size": "abc"}).status_code == 422
    assert admin.post("/inspections/settings", data={"sample_size": "20%"}).status_code == 303
    assert register_entries(action="setting_change")[-1].detail == "inspection_sample_size: 10 → 20%"
    assert 'name="sample" value="20%"' in ih.text(archivist.get("/inspections/new"))
    assert "抽查样本" in ih.text(admin.get("/inspections/settings"))


def test_draw_through_the_page_and_bad_input_keeps_the_form(make_archive, login, register_entries):
    ih.filed(make_archive, 3)
    client = login("archivist")
    form = {"quarter": "2026-Q4", "scope": "all", "sample": "0", "seed": "my seed", "note": "第四季度抽查"}
    response = client.post("/inspections/new", data=form)
    assert response.status_code == 422
    page = ih.text(response)
    assert "第四季度抽查" in page and "my seed" in page  # nothing lost
    empty = {**form, "sample": "2", "seed": "s1", "scope": f"department:{ih.dept_id('执行部')}"}
    response = client.post("/inspections/new", data=empty)
    assert response.status_code == 422 and "没有可抽取的已归档档案" in ih.text(response)
    assert not register_entries(action="inspection_draw")
    response = client.post("/inspections/new", data={**form, "sample": "2", "seed": "s1"})
    assert response.status_code == 303
    page = ih.text(client.get(response.headers["Location"]))
    assert "2026年第4季度" in page and "s1" in page


def test_only_the_archivist_draws(make_archive, login, register_entries):
    ih.filed(make_archive, 2)
    for username in ("staff_sales", "supervisor", "head_sales", "manager"):
        client = login(username)
        before = len(register_entries(action="access_denied", username=username))
        assert client.get("/inspections/new").status_code == 403
        assert client.post("/inspections/new", data={"quarter": "2026-Q4", "scope": "all",
                                                     "sample": "2"}).status_code == 403
        assert len(register_entries(action="access_denied", username=username)) == before + 2
    assert not register_entries(action="inspection_draw")


def test_a_forged_draw_without_the_csrf_token_is_refused(csrf_app, make_archive, login, register_entries):
    ih.filed(make_archive, 2)
    client = login("archivist")
    response = client.post("/inspections/new", data={"quarter": "2026-Q4", "scope": "all", "sample": "1"})
    assert response.status_code == 400
    assert not register_entries(action="inspection_draw")
