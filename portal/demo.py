"""Demo data: fixed demo users for every role and a set of demo archives (``portal demo``).

The archives go through the real services (create draft → add sub-records → submit → the
department head approves or rejects → the archivist files and numbers them), so they carry real
archive numbers and real register entries. The content is generated from a seeded random
generator: the same names, people, contracts and notes every time (dates are relative to the day
the demo is loaded so that birthdays, follow-ups and contracts look current). Loading twice adds
nothing: an archive whose demo name already exists is skipped.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.actor import Actor, cli_actor
from portal.auth import roles
from portal.auth import services as auth_services
from portal.auth.models import User
from portal.extensions import db
from portal.seed import department, seed_reference_data

# username, display name, role, clearance, department code — names fixed for docs and checks.
DEMO_USERS = [
    ("archivist", "陈档案", roles.ARCHIVIST, roles.SECRET, "CS"),
    ("manager", "王总", roles.MANAGER, roles.SECRET, "MGT"),
    ("supervisor", "周质检", roles.SUPERVISOR, roles.INTERNAL, "QA"),
    ("head_sales", "李销售经理", roles.DEPT_HEAD, roles.INTERNAL, "SAL"),
    ("staff_sales", "张小销", roles.STAFF, roles.INTERNAL, "SAL"),
    ("head_marketing", "赵市场经理", roles.DEPT_HEAD, roles.INTERNAL, "MKT"),
    ("staff_marketing", "刘小市", roles.STAFF, roles.PUBLIC, "MKT"),
    ("head_service", "孙客服经理", roles.DEPT_HEAD, roles.INTERNAL, "CS"),
]


def create_demo_users(password: str) -> list[User]:
    """Create the demo users that do not exist yet (idempotent)."""
    seed_reference_data()
    created = []
    for username, name, role, clearance, dept_code in DEMO_USERS:
        if db.session.scalar(sa.select(User.id).where(User.username == username)):
            continue
        created.append(auth_services.create_user(
            cli_actor(), username=username, password=password, display_name=name, role=role,
            clearance=clearance, department_id=department(dept_code).id, commit=False))
    if db.session.scalar(sa.select(User.id).where(User.username == "admin")) is None:
        created.append(auth_services.create_user(
            cli_actor(), username="admin", password=password, display_name="系统管理员",
            role=roles.ADMIN, clearance=roles.PUBLIC, department_id=department("IT").id, commit=False))
    db.session.commit()
    return created


# --- demo archives -------------------------------------------------------------------------

SEED = 20260101
DEMO_ADDR = "demo"  # client address written on the register entries of the demo load

# Customer types by code (portal.seed.CUSTOMER_TYPES). One cycle of ten archives: both kinds
# appear within the first three archives, every type within ten.
TYPE_CYCLE = ("电商", "外贸", "个人", "本土", "电商", "个人", "外贸", "电商", "本土", "协会")
# Cooperation stage cycle (length 7, coprime to the type cycle: every type meets every stage;
# individuals, at positions 2, 5, 12, 15 …, are in all three stages within the first 16).
STAGE_CYCLE = ("active", "terminated", "active", "potential", "active", "potential", "active")
# Filing status cycle of 25: 18 filed, 2 drafts, 2 submitted, 2 approved, 1 rejected.
STATUS_CYCLE = ("filed", "filed", "filed", "draft", "filed", "filed", "submitted", "filed",
                "approved", "filed", "filed", "filed", "rejected", "filed", "draft", "filed",
                "filed", "submitted", "filed", "filed", "approved", "filed", "filed", "filed", "filed")
# Filed archives at these positions are classified 一级 (secret) by the archivist when filing.
SECRET_POSITIONS = (4, 13, 22)  # modulo 25
# Retention (issue 7): terminated customers at these positions (all filed) ended long ago — the
# archive is made as if loaded four years earlier, so it is eligible for destruction — or a chosen
# number of days ago, around their 6-month termination review (overdue, due within weeks).
RETENTION_OLD = (1, 15, 29)
RETENTION_ENDED_DAYS = {22: 240, 36: 212, 43: 168}
BIRTHDAY_IN_DAYS = 3  # one individual customer of staff_sales has a birthday this soon (reminders)

CITIES = [  # Chinese city, pinyin, district address stem, ID-number area code
    ("深圳市", "Shenzhen", "广东省深圳市南山区粤海街道科技南十二路", "440305"),
    ("广州市", "Guangzhou", "广东省广州市天河区珠江新城华夏路", "440106"),
    ("义乌市", "Yiwu", "浙江省义乌市稠城街道国际商贸城二区", "330782"),
    ("宁波市", "Ningbo", "浙江省宁波市鄞州区首南街道天童南路", "330212"),
    ("杭州市", "Hangzhou", "浙江省杭州市滨江区长河街道江南大道", "330108"),
    ("厦门市", "Xiamen", "福建省厦门市思明区鹭江道", "350203"),
    ("东莞市", "Dongguan", "广东省东莞市长安镇振安中路", "441900"),
    ("苏州市", "Suzhou", "江苏省苏州市工业园区星湖街", "320571"),
    ("青岛市", "Qingdao", "山东省青岛市市南区香港中路", "370202"),
    ("佛山市", "Foshan", "广东省佛山市顺德区北滘镇林港路", "440606"),
]
AREA_CODES = {"深圳市": "0755", "广州市": "020", "义乌市": "0579", "宁波市": "0574", "杭州市": "0571",
              "厦门市": "0592", "东莞市": "0769", "苏州市": "0512", "青岛市": "0532", "佛山市": "0757"}
BRANDS = [
    ("海拓", "Haituo"), ("云帆", "Yunfan"), ("锦程", "Jincheng"), ("远航", "Yuanhang"),
    ("博睿", "Borui"), ("星辰", "Xingchen"), ("恒信", "Hengxin"), ("华跃", "Huayue"),
    ("优品", "Youpin"), ("鼎盛", "Dingsheng"), ("嘉禾", "Jiahe"), ("瑞丰", "Ruifeng"),
    ("朗悦", "Langyue"), ("启明", "Qiming"), ("众联", "Zhonglian"), ("卓越", "Zhuoyue"),
    ("宏图", "Hongtu"), ("泰和", "Taihe"), ("安达", "Anda"), ("新润", "Xinrun"),
]
# Manufacturing lines: Chinese, English, industry
PRODUCT_LINES = [
    ("电子科技", "Electronic Technology", "消费电子"),
    ("家居用品", "Household Products", "家居用品"),
    ("服饰", "Garment", "服装鞋帽"),
    ("照明电器", "Lighting Appliance", "照明"),
    ("户外用品", "Outdoor Products", "户外运动"),
    ("五金制品", "Hardware Products", "五金工具"),
    ("宠物用品", "Pet Products", "宠物用品"),
    ("化妆品", "Cosmetics", "美妆个护"),
    ("母婴用品", "Baby Products", "母婴用品"),
    ("汽车配件", "Auto Parts", "汽配"),
]
INDUSTRIES = [line[2] for line in PRODUCT_LINES]
# Overseas regions: region, target markets, words for names, legal suffixes, address, phone prefix,
# contact names
OVERSEAS = {
    "美国": ("美国、加拿大", ["Brightline", "Lakeshore", "Summit", "Redwood", "Harbor", "Pioneer"],
           ["LLC", "Inc."], "1200 Commerce Blvd, Suite 300, Newark, NJ 07102, USA", "+1 973 555 ",
           ["Michael Carter", "Jennifer Lopez", "David Kim", "Sarah Mitchell", "Kevin Brown"]),
    "德国": ("德国、奥地利、瑞士", ["Nordwind", "Rheinblick", "Alpenstern", "Elbtal", "Schwarzwald"],
           ["GmbH", "Handels GmbH"], "Hanauer Landstraße 126, 60314 Frankfurt am Main, Deutschland",
           "+49 69 4800 ", ["Anna Schmidt", "Lukas Weber", "Julia Becker", "Thomas Wagner"]),
    "日本": ("日本", ["Sakura", "Midori", "Asahi", "Hikari", "Yamato"], ["Co., Ltd.", "K.K."],
           "東京都港区芝浦三丁目4番1号 グランパークタワー12階", "+81 3 5440 ",
           ["田中浩 Tanaka Hiroshi", "佐藤美咲 Sato Misaki", "鈴木健 Suzuki Ken"]),
    "东南亚": ("新加坡、马来西亚、泰国、越南", ["Merlion", "Lotus", "Siam", "Garuda", "Mekong"],
            ["Pte. Ltd.", "Sdn. Bhd.", "Co., Ltd."], "80 Robinson Road, #10-01, Singapore 068898",
            "+65 6221 ", ["Tan Wei Ming", "Nguyen Van Minh", "Siti Rahman", "Somchai Prasert"]),
    "中东": ("阿联酋、沙特阿拉伯、卡塔尔", ["Al Noor", "Desert Rose", "Falcon", "Oasis"],
           ["Trading LLC", "FZE"], "Office 1402, Jumeirah Bay Tower X2, JLT, Dubai, UAE",
           "+971 4 423 ", ["Ahmed Al-Farsi", "Omar Haddad", "Fatima Al-Zahra"]),
    "英国": ("英国、爱尔兰", ["Thames", "Kingsbridge", "Oakridge", "Bluestone"], ["Ltd"],
           "27 Old Gloucester Street, London WC1N 3AX, United Kingdom", "+44 20 7946 ",
           ["Oliver Smith", "Emily Clarke", "James Wilson"]),
    "澳大利亚": ("澳大利亚、新西兰", ["Southern Cross", "Coral", "Eucalypt"], ["Pty Ltd"],
             "Level 8, 1 Market Street, Sydney NSW 2000, Australia", "+61 2 9250 ",
             ["Jack Thompson", "Chloe Wilson", "Liam Taylor"]),
}
REGIONS = list(OVERSEAS)
TLD = {"美国": ".com", "德国": ".de", "日本": ".co.jp", "东南亚": ".com.sg", "中东": ".ae", "英国": ".co.uk",
       "澳大利亚": ".com.au"}
ASSOCIATIONS = [
    ("深圳市跨境电子商务协会", "Shenzhen Cross-border E-commerce Association", "深圳市"),
    ("广东省外商投资企业协会", "Guangdong Association of Enterprises with Foreign Investment", "广州市"),
    ("浙江省电子商务促进会", "Zhejiang E-commerce Promotion Association", "杭州市"),
    ("宁波市进出口商会", "Ningbo Import and Export Chamber of Commerce", "宁波市"),
    ("义乌市跨境电商行业协会", "Yiwu Cross-border E-commerce Industry Association", "义乌市"),
    ("厦门市外贸企业协会", "Xiamen Foreign Trade Enterprises Association", "厦门市"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN_MALE = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "浩然", "子轩", "宇航",
              "建国", "志强", "俊杰", "文博", "天佑", "嘉诚", "晓东"]
GIVEN_FEMALE = ["芳", "娜", "敏", "静", "丽", "艳", "婷", "雪", "慧", "颖", "雨涵", "欣怡", "梓萱",
                "佳怡", "思琪", "晓燕", "美玲", "秀英", "诗涵", "梦瑶"]
PINYIN = dict(zip(
    SURNAMES,
    "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang "
    "xie song tang xu han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu yu du ye cheng "
    "wei su lv ding ren shen yao lu jiang cui zhong tan lu wang fan jin shi liao jia xia wei fu fang bai "
    "zou meng xiong qin qiu jiang yin xue yan duan lei hou long shi li he gu mao hao gong shao wan qian "
    "yan qin wu dai mo kong xiang tang".split(), strict=False))
PINYIN.update(zip(GIVEN_MALE + GIVEN_FEMALE, (
    "wei qiang lei jun yang yong jie tao ming chao haoran zixuan yuhang jianguo zhiqiang junjie wenbo "
    "tianyou jiacheng xiaodong fang na min jing li yan ting xue hui ying yuhan xinyi zixuan jiayi siqi "
    "xiaoyan meiling xiuying shihan mengyao").split(), strict=False))
assert len(PINYIN) >= len(set(SURNAMES)) + 38


def _pinyin_email(rng: random.Random, name: str, domains: tuple[str, ...]) -> str:
    surname, given = PINYIN.get(name[0], "ke"), PINYIN.get(name[1:], "hu")
    local = rng.choice((f"{given}.{surname}", f"{surname}{given}", f"{surname}{given}{rng.randint(1, 99)}",
                        f"{given[0]}{surname}{rng.randint(10, 999)}"))
    return f"{local}@{rng.choice(domains)}"


OCCUPATIONS = ["亚马逊店铺运营", "独立站店主", "外贸SOHO", "海外买手", "TikTok带货达人",
               "跨境物流顾问", "工业设计师", "进口商代理", "自由撰稿人（出海品牌）"]
EDUCATION = ["大专", "本科", "本科", "硕士", "硕士", "博士"]
NATURES = ["有限责任公司", "股份有限公司", "民营企业", "中外合资企业", "外商独资企业"]
POSITIONS_CN = ["总经理", "采购经理", "市场总监", "电商运营主管", "品牌经理", "财务经理", "外贸业务员"]
POSITIONS_EN = ["CEO", "Head of Marketing", "Purchasing Manager", "Brand Manager", "Sales Director",
                "E-commerce Lead"]
CHANNELS = ["phone", "email", "wechat", "whatsapp", "video", "meeting"]

SERVICES = [  # project / service names of a cross-border marketing agency
    "亚马逊美国站品牌推广年度服务", "TikTok Shop 达人营销项目", "独立站SEO与内容营销",
    "谷歌广告账户托管", "海外社媒（Facebook/Instagram）代运营", "欧洲站合规与VAT咨询",
    "日本乐天店铺开店辅导", "中东市场进入调研", "品牌出海全案策划", "海外展会（CES/IFA）参展策划",
    "东南亚 Shopee/Lazada 店铺代运营", "海外红人测评与开箱视频制作",
]
PRODUCTS = [  # transactions: product, specification, unit price range
    ("达人营销套餐", "10位腰部达人 × 1条视频", (8000, 30000)),
    ("广告投放代充值", "Google Ads 月度预算", (20000, 120000)),
    ("产品详情页设计", "A+页面 5 屏，中英双语", (3000, 9000)),
    ("品牌视频拍摄", "60秒产品短片 + 3条15秒剪辑", (15000, 45000)),
    ("市场调研报告", "目标市场竞品分析，约40页", (12000, 38000)),
    ("社媒代运营", "3个平台 × 月度20帖", (9000, 26000)),
    ("展会展位搭建", "标准展位 9㎡ 设计与搭建", (30000, 80000)),
]
COMM_TOPICS = [
    ("年度推广方案沟通", "同意先以两个月为试运营期，按月复盘 ROI。", "客户希望降低服务费比例，尚未达成一致。"),
    ("黑五网一大促排期", "确认11月第二周开始预热，素材由我方制作。", ""),
    ("合同续签意向", "客户原则上同意续签一年，条款待法务确认。", "付款周期（客户要求60天账期）。"),
    ("广告数据周报解读", "ACoS 目标调整为 25%。", ""),
    ("新品上市推广计划", "新品3月上线，安排5位测评达人。", "测评样品数量。"),
    ("投诉处理回访", "客户接受补偿方案（免费追加一期投放）。", ""),
    ("展会合作洽谈", "共同参加法兰克福春季消费品展。", "展位费分摊比例。"),
    ("数据合规说明", "按《个人信息保护法》约定客户数据仅用于本项目。", ""),
]
SERVICE_ITEMS = [
    ("店铺诊断", "对 Listing 关键词、评分与退货原因做全面诊断，提交改进清单。"),
    ("广告账户优化", "调整否定关键词与出价策略，月度 ACoS 下降约 4 个百分点。"),
    ("大促活动执行", "完成 Prime Day 活动报名、优惠券设置与站外引流。"),
    ("培训服务", "为客户运营团队进行两小时 TikTok 短视频运营培训。"),
    ("合规咨询", "协助客户完成欧盟 GPSR 责任人信息更新。"),
]
FEEDBACK = [
    ("feedback", "客户对本季度达人视频质量表示满意，希望增加德语内容。", "已安排德语母语编导跟进。",
     "下季度起每月增加两条德语视频。"),
    ("feedback", "建议周报增加竞品价格监控数据。", "数据组评估后纳入周报模板。", "已从第12周起提供。"),
    ("complaint", "广告投放预算超支约 8%，未提前告知客户。", "核实系平台自动调价所致，向客户书面说明并致歉。",
     "超支部分由我方承担，增加每日预算预警。"),
    ("complaint", "红人视频发布时间晚于约定三天，影响新品首发。", "与红人经纪公司沟通，追加一条补发视频。",
     "客户接受补偿方案，关系恢复正常。"),
    ("feedback", "对市场调研报告的深度表示认可。", "", ""),
]
REJECT_REASONS = [
    "关键联系人缺少联系电话，合作合同编号未填写，请补充后重新提交。",
    "客户类型选择有误（应为外贸生产企业），信用评级缺少依据，请更正。",
]
APPROVE_NOTES = ["资料齐全，同意归档。", "", "已核对合同原件，同意。"]
CREDIT = ["AAA", "AA", "AA", "A", "A", "B", "C"]
PAYMENT_RECORDS = [
    "近12个月回款及时，无逾期记录。",
    "2025年第三季度有一笔服务费逾期15天，已结清。",
    "采用预付款模式，无欠款。",
    "账期30天，偶有延迟（5天以内）。",
    "曾有一笔尾款逾期超过60天，经催收后结清，后续改为预付。",
]
# Short passages adapted from the company's customer-information policies (SPEC seeds 001, 002).
POLICY_NOTES = [
    "按客户信息管理制度第四条：本档案含商业秘密，属一级信息，纸质材料存放于保密室。",
    "客户要求其个人信息仅用于本项目，已签署个人信息处理授权书（依据《个人信息保护法》）。",
    "查询档案时应遵循保密原则，不得泄露客户信息；对外提供须经管理层审批并脱敏。",
    "档案资料应完整、准确；合同、往来函件、投诉与反馈材料已按编号规则归档。",
    "",
    "",
]
NEEDS = [
    ("希望提升亚马逊美国站自然流量，年销售额目标增长 30%。", "偏好微信沟通，周报每周一上午发送。"),
    ("计划进入欧洲市场，需要合规与本地化支持。", "邮件沟通为主，重要事项需视频会议确认。"),
    ("需要海外红人资源，重点是 TikTok 与 YouTube。", "预算敏感，倾向按效果付费。"),
    ("寻找中东地区的分销合作伙伴。", "偏好面谈，斋月期间减少打扰。"),
    ("希望统一多平台的品牌形象与视觉规范。", "决策链较长，需提前两周提供方案。"),
    ("需要日语详情页与客服外包。", "注重细节与交付准时，偏好书面确认。"),
]
POSITIONINGS = ["中高端品牌，主打品质与设计", "性价比路线，走量为主", "细分品类头部卖家",
                "新锐品牌，处于品牌化转型期", "B2B 批发与 OEM 代工为主"]
TARGET_CUSTOMERS = ["25–40岁城市女性消费者", "北美家庭用户", "欧洲中小零售商", "户外运动爱好者",
                    "年轻宠物主人", "企业采购与批发商"]
COMPETITION = ["主要竞品为 Anker、Ugreen 等头部品牌，价格压力较大。", "同类国产卖家众多，差异化不足。",
               "当地本土品牌占据线下渠道，线上仍有机会。", "竞争相对温和，品类处于增长期。"]
SPECIAL_NEEDS = ["", "", "合同及报价需中英文双语版本。", "发票需开具增值税专用发票。",
                 "客户要求所有沟通抄送其法务邮箱。", "节假日不安排电话沟通。"]
PAPER_ROOMS = ["档案室A（3楼）", "档案室B（5楼）", "保密室（3楼）"]


@dataclass
class DemoSpec:
    """One demo archive: its fields, its sub-records and how far through the workflow it goes."""

    author: str
    status: str
    data: dict
    records: list[tuple[str, dict]] = field(default_factory=list)
    secret: bool = False  # reclassified 一级 by the archivist after filing
    note: str = ""  # approval note or rejection reason


def _id_number(rng: random.Random, area: str, born: date, male: bool) -> str:
    """18-digit resident ID number in the GB 11643 format with a valid check digit."""
    seq = rng.randint(10, 99) * 10 + (rng.choice((1, 3, 5, 7, 9)) if male else rng.choice((0, 2, 4, 6, 8)))
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=False)) % 11]
    return body + check


def _luhn(prefix: str, length: int, rng: random.Random) -> str:
    """A bank card number with a valid Luhn check digit."""
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def _mobile(rng: random.Random) -> str:
    return rng.choice(("138", "139", "136", "137", "150", "151", "158", "186", "187", "135", "177")) + \
        f"{rng.randint(0, 99999999):08d}"


def _person_name(rng: random.Random, male: bool | None = None) -> tuple[str, bool]:
    male = rng.random() < 0.5 if male is None else male
    return rng.choice(SURNAMES) + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE), male


def _date_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max((end - start).days, 0)))


class _Counter:
    def __init__(self, start: int):
        self.value = start

    def next(self) -> int:
        self.value += 1
        return self.value


def demo_specs(count: int, today: date | None = None) -> list[DemoSpec]:
    """The demo archives, always the same for the same ``count`` (and day)."""
    rng = random.Random(SEED)
    today = today or date.today()
    used_names: set[str] = set()
    contract_seq = _Counter(rng.randint(100, 130))
    order_seq = _Counter(rng.randint(10, 40))
    specs = []
    birthday_set = False
    for i in range(count):
        type_code = TYPE_CYCLE[i % len(TYPE_CYCLE)]
        stage = STAGE_CYCLE[i % len(STAGE_CYCLE)]
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        # The same random draws for every archive (the others stay as they were); only the dates move.
        day = _years_before(today, 4) if stage == "terminated" and i in RETENTION_OLD else today
        spec = _one_spec(rng, i, type_code, stage, status, day, used_names, contract_seq, order_seq,
                         ended_days_ago=RETENTION_ENDED_DAYS.get(i) if stage == "terminated" else None)
        if (not birthday_set and spec.data["kind"] == "individual" and status == "filed"
                and stage != "terminated" and spec.data["_responsible"] == "staff_sales"):
            _birthday_soon(spec, today, i)
            birthday_set = True
        specs.append(spec)
    return specs


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _birthday_soon(spec: DemoSpec, today: date, i: int) -> None:
    """Move an individual customer's birthday (and the ID number with it) to
    :data:`BIRTHDAY_IN_DAYS` days from ``today``, in the same year of birth. Its 生日 anniversary
    record is left out: the birthday reminder comes from the date of birth (one reminder, not two)."""
    data = spec.data
    soon = today + timedelta(days=BIRTHDAY_IN_DAYS)
    born = data["birth_date"]
    try:
        born = born.replace(month=soon.month, day=soon.day)
    except ValueError:  # 29 February, born in a common year
        born = born.replace(month=2, day=28)
    data["birth_date"] = born
    data["id_number"] = _id_number(random.Random(SEED + i), data["id_number"][:6], born,
                                   data["gender"] == "male")
    spec.records = [(kind, values) for kind, values in spec.records
                    if not (kind == "anniversaries" and values.get("occasion") == "生日")]


def _unique(name: str, used: set[str], suffix_options: list[str]) -> str:
    candidate = name
    n = 0
    while candidate in used:
        candidate = f"{name}（{suffix_options[n % len(suffix_options)]}{'' if n < len(suffix_options) else n}）"
        n += 1
    used.add(candidate)
    return candidate


def _one_spec(rng, i, type_code, stage, status, today, used_names, contract_seq, order_seq,
              ended_days_ago: int | None = None) -> DemoSpec:
    city, city_py, street, area = rng.choice(CITIES)
    region = rng.choice(REGIONS)
    markets, words, suffixes, overseas_addr, phone_prefix, foreign_contacts = OVERSEAS[region]
    data: dict = {}
    individual = type_code == "个人"
    if individual:
        while True:
            name, male = _person_name(rng)
            if name not in used_names:
                break
        used_names.add(name)
        born = _date_between(rng, date(1965, 1, 1), date(2000, 12, 31))
        data.update(
            kind="individual", name=name, gender="male" if male else "female", birth_date=born,
            id_number=_id_number(rng, area, born, male), occupation=rng.choice(OCCUPATIONS),
            education=rng.choice(EDUCATION),
            email=_pinyin_email(rng, name, ("163.com", "qq.com", "gmail.com", "outlook.com", "126.com")),
            bank_account=_luhn(rng.choice(("622202", "621700", "622848", "622588")), 19, rng),
            industry=rng.choice(INDUSTRIES),
        )
    elif type_code == "本土":
        name_en = _unique(f"{rng.choice(words)} {rng.choice(['Home', 'Retail', 'Trading', 'Brands', 'Distribution', 'Outdoor'])} "
                          f"{rng.choice(suffixes)}", used_names, ["Branch", "Holdings", "Group"])
        data["_domain"] = name_en.split(" ")[0].lower() + TLD[region]
        data.update(kind="organisation", name=name_en, address_overseas=overseas_addr,
                    nature="海外本土企业", industry=rng.choice(INDUSTRIES),
                    registered_capital=rng.choice(["USD 2,000,000", "EUR 500,000", "JPY 30,000,000",
                                                   "SGD 1,000,000", "AED 3,000,000"]),
                    legal_representative=rng.choice(foreign_contacts).split(" ", 1)[-1])
    elif type_code == "协会":
        assoc_cn, assoc_en, city = ASSOCIATIONS[(i // len(TYPE_CYCLE)) % len(ASSOCIATIONS)]
        street = next(c[2] for c in CITIES if c[0] == city)
        name = _unique(assoc_cn, used_names, ["第二届理事会", "分会", "秘书处"])
        data["_domain"] = "".join(w[0] for w in assoc_en.split() if w[0].isupper()).lower() + ".org.cn"
        data.update(kind="organisation", name=name, name_en=assoc_en, nature="社会团体",
                    industry="行业服务", registered_capital="—")
    else:
        brand, brand_py = rng.choice(BRANDS)
        if type_code == "电商":
            line_cn, line_en, industry = "跨境电商", "Cross-border E-commerce", rng.choice(INDUSTRIES)
        else:
            line_cn, line_en, industry = rng.choice(PRODUCT_LINES)
        name = f"{city}{brand}{line_cn}有限公司"
        if name in used_names:
            brand, brand_py = next((b for b in BRANDS if f"{city}{b[0]}{line_cn}有限公司" not in used_names),
                                   (brand + "新", brand_py + "xin"))
            name = f"{city}{brand}{line_cn}有限公司"
        name = _unique(name, used_names, ["分公司"])
        data["_domain"] = brand_py.lower() + rng.choice(("-ec", "global", "tech", "")) + ".com"
        data.update(kind="organisation", name=name,
                    name_en=f"{city_py} {brand_py} {line_en} Co., Ltd.",
                    address_overseas=overseas_addr if rng.random() < 0.4 else "",
                    nature=rng.choice(NATURES), industry=industry,
                    registered_capital=f"{rng.choice([50, 100, 200, 500, 1000, 3000])}万元人民币")
    if not individual:
        founded = _date_between(rng, date(2003, 1, 1), date(2022, 12, 31))
        rep, _ = _person_name(rng)
        data.setdefault("legal_representative", rep)
        data.update(
            founded_on=founded,
            business_scope=rng.choice([
                "跨境电子商务；货物进出口；技术进出口；日用百货、家居用品、电子产品的销售。",
                "电子产品的研发、生产与销售；自营和代理各类商品及技术的进出口业务。",
                "Retail and online distribution of consumer goods; import and wholesale.",
                "行业交流、培训、展会组织与政策咨询服务。",
            ]),
            email=f"{rng.choice(['info', 'sales', 'marketing', 'contact'])}@{data['_domain']}",
            bank_account=str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9))
                                                          for _ in range(rng.choice((11, 14, 15)))),
        )
    address = f"{street}{rng.randint(1, 399)}号{rng.choice(['', 'A座', 'B栋'])}{rng.randint(2, 28)}{rng.randint(1, 20):02d}室"
    if type_code == "本土":  # overseas company: foreign phone, a liaison office in China at most
        data["phone"] = phone_prefix + f"{rng.randint(0, 9999):04d}"
        data["address"] = f"中国联络处：{address}" if rng.random() < 0.4 else ""
    else:
        data["address"] = address
        data["phone"] = _mobile(rng) if rng.random() < 0.75 else \
            f"{AREA_CODES[city]}-{rng.randint(2000_0000, 8999_9999)}"
    needs, preferences = rng.choice(NEEDS)
    importance = rng.choice("AABBBCCCD")
    data.update(
        stage=stage, region=region, importance=importance, target_markets=markets,
        positioning=rng.choice(POSITIONINGS), target_customers=rng.choice(TARGET_CUSTOMERS),
        competition=rng.choice(COMPETITION), needs=needs, preferences=preferences,
        credit_rating=rng.choice(CREDIT) if stage != "potential" else rng.choice(["", "A", "B"]),
        payment_record=rng.choice(PAYMENT_RECORDS) if stage != "potential" else "尚无交易。",
        special_needs=rng.choice(SPECIAL_NEEDS), notes=rng.choice(POLICY_NOTES),
        paper_room=rng.choice(PAPER_ROOMS), paper_cabinet=f"{rng.randint(1, 12):02d}号柜",
        paper_shelf=f"第{rng.randint(1, 5)}层", paper_box=f"{rng.randint(1, 240):03d}号盒",
    )
    signed = None
    if stage in ("active", "terminated"):
        signed = _date_between(rng, today - timedelta(days=900), today - timedelta(days=30))
        data["contract_signed_on"] = signed
    if stage == "terminated":
        data["terminated_on"] = _date_between(rng, signed + timedelta(days=120), today - timedelta(days=7))
        if ended_days_ago is not None:  # a chosen distance from the termination review
            data["terminated_on"] = today - timedelta(days=ended_days_ago)
            if signed > data["terminated_on"] - timedelta(days=120):
                signed = data["contract_signed_on"] = data["terminated_on"] - timedelta(days=400)

    # Who enters it: sales (staff or head) or marketing. Staff of 市场部 have 三级 clearance,
    # so their archives are classified 三级 (public); the others mostly 二级 (internal).
    dept = "SAL" if rng.random() < 0.55 else "MKT"
    if dept == "SAL":
        author = "staff_sales" if rng.random() < 0.8 else "head_sales"
        responsible = "staff_sales" if rng.random() < 0.75 else "head_sales"
        sensitivity = 2 if rng.random() < 0.8 else 3
    else:
        author = "staff_marketing" if rng.random() < 0.7 else "head_marketing"
        responsible = "staff_marketing" if author == "staff_marketing" or rng.random() < 0.5 else "head_marketing"
        sensitivity = 3 if responsible == "staff_marketing" else rng.choice((2, 3))
    data["sensitivity"] = sensitivity
    data["_responsible"] = responsible
    data["_type"] = type_code

    spec = DemoSpec(author=author, status=status, data=data,
                    secret=status == "filed" and (i % 25) in SECRET_POSITIONS)
    if status == "rejected":
        spec.note = REJECT_REASONS[(i // 25) % len(REJECT_REASONS)]
    elif status in ("approved", "filed"):
        spec.note = rng.choice(APPROVE_NOTES)
    spec.records = _sub_records(rng, spec, today, foreign_contacts, phone_prefix, signed,
                                contract_seq, order_seq)
    return spec


def _sub_records(rng, spec, today, foreign_contacts, phone_prefix, signed, contract_seq, order_seq):
    data = spec.data
    records: list[tuple[str, dict]] = []
    overseas = data.get("nature") == "海外本土企业"
    foreign = rng.sample(foreign_contacts, min(3, len(foreign_contacts)))
    for n in range(rng.randint(1, 3)):
        if overseas:
            cname = foreign[n]
            phone = phone_prefix + f"{rng.randint(0, 9999):04d}"
            latin = [w.lower() for w in cname.split() if w.isascii()]
            email = ".".join(latin) + "@" + data["_domain"]
            position = rng.choice(POSITIONS_EN)
        else:
            cname, _ = _person_name(rng)
            phone = _mobile(rng)
            email = _pinyin_email(rng, cname, (data["_domain"],) if data["kind"] == "organisation"
                                  else ("163.com", "qq.com", "foxmail.com"))
            position = rng.choice(POSITIONS_CN) if data["kind"] == "organisation" else rng.choice(["助理", "配偶", "合伙人"])
        records.append(("contacts", dict(name=cname, position=position, phone=phone, email=email,
                                         preferred_channel=rng.choice(CHANNELS))))
    stage = data["stage"]
    if stage == "potential":
        records.append(("cooperation", dict(
            project=rng.choice(SERVICES), contract_number="", key_terms="方案报价阶段，尚未签约。",
            period_start=None, period_end=None, fee_range=rng.choice(["5万–10万元", "10万–20万元"]),
            progress="已提交方案，等待客户决策", renewal="")))
    else:
        for n in range(rng.randint(1, 2)):
            start = signed if n == 0 else signed + timedelta(days=365)
            if start > today:
                break
            end = start + timedelta(days=364)
            ended = stage == "terminated" and n == 0
            records.append(("cooperation", dict(
                project=rng.choice(SERVICES), contract_number=f"HT-{start.year}-{contract_seq.next():04d}",
                key_terms=rng.choice([
                    "服务费按季度结算；KPI 为广告 ROI ≥ 3（具体比例已脱敏）。",
                    "基础服务费 + 销售额提成（比例已脱敏）；保密期三年。",
                    "按项目里程碑付款 30%/40%/30%；知识产权归客户所有。",
                ]),
                period_start=start, period_end=end,
                fee_range=rng.choice(["10万–20万元", "20万–50万元", "50万–100万元", "100万元以上"]),
                progress="已终止" if ended else rng.choice(["执行中", "第二阶段执行中", "已完成验收"]),
                renewal="" if ended else rng.choice(["", "到期前30天沟通续签", "已续签一年"]))))
        for _n in range(rng.randint(1, 3)):
            product, spec_text, (low, high) = rng.choice(PRODUCTS)
            traded = _date_between(rng, signed, min(today, data.get("terminated_on") or today))
            qty = Decimal(rng.choice((1, 1, 2, 3, 6, 12)))
            records.append(("transactions", dict(
                traded_on=traded, product=product, spec=spec_text, quantity=qty,
                price=Decimal(rng.randrange(low, high, 500)),
                order_number=f"SO{traded:%Y%m%d}-{order_seq.next():04d}")))
    for _n in range(rng.randint(1, 3)):
        topic, agreed, disagreed = rng.choice(COMM_TOPICS)
        records.append(("communications", dict(
            occurred_on=today - timedelta(days=rng.randint(3, 400)), channel=rng.choice(CHANNELS),
            topic=topic, agreements=agreed, disagreements=disagreed)))
    if stage != "potential":
        for _n in range(rng.randint(0, 2)):
            service, content = rng.choice(SERVICE_ITEMS)
            records.append(("services", dict(
                served_on=today - timedelta(days=rng.randint(5, 300)), service=service, content=content,
                staff_name=rng.choice(["张小销", "刘小市", "李销售经理", "赵市场经理"]))))
        for _n in range(rng.choice((0, 1, 1, 2))):
            kind, desc, handling, result = rng.choice(FEEDBACK)
            records.append(("feedback", dict(
                received_on=today - timedelta(days=rng.randint(5, 300)), kind=kind, description=desc,
                handling=handling, result=result,
                satisfaction=rng.choice((2, 3)) if kind == "complaint" else rng.choice((4, 5, 5)))))
    if data["kind"] == "individual":
        records.append(("anniversaries", dict(occasion="生日", falls_on=data["birth_date"],
                                              note="发送生日祝福（微信或邮件）")))
    elif rng.random() < 0.6:
        if signed:
            records.append(("anniversaries", dict(occasion="合作周年纪念日", falls_on=signed,
                                                  note="寄送周年纪念礼品与合作回顾")))
        else:
            records.append(("anniversaries", dict(occasion="公司成立纪念日", falls_on=data["founded_on"],
                                                  note="发送贺信")))
    return records


def _users() -> dict[str, User]:
    names = [u[0] for u in DEMO_USERS]
    return {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(names)))}


def _load_archive(spec: DemoSpec, users: dict[str, User], types: dict[str, int]) -> None:
    from portal.archives import services
    from portal.archives.subrecords import BY_KEY

    author = users[spec.author]
    data = {k: v for k, v in spec.data.items() if not k.startswith("_")}
    data["customer_type_id"] = types[spec.data["_type"]]
    data["responsible_id"] = users[spec.data["_responsible"]].id
    as_author = Actor(author, DEMO_ADDR, "cli")
    archive = services.create_draft(as_author, data)
    for kind, values in spec.records:
        services.add_record(as_author, archive, BY_KEY[kind], values)
    if spec.status == "draft":
        return
    services.submit(as_author, archive)
    if spec.status == "submitted":
        return
    head = users["head_sales" if author.department.code == "SAL" else "head_marketing"]
    as_head = Actor(head, DEMO_ADDR, "cli")
    if spec.status == "rejected":
        services.reject(as_head, archive, spec.note)
        return
    services.approve(as_head, archive, spec.note)
    if spec.status == "approved":
        return
    as_archivist = Actor(users["archivist"], DEMO_ADDR, "cli")
    # No demo author or head holds 一级 clearance: secret archives are entered as 二级 and the
    # archivist classifies them 一级 when filing.
    services.file_archive(as_archivist, archive, sensitivity=roles.SECRET if spec.secret else None)
    _backdate_filing(archive)


def _backdate_filing(archive) -> None:
    """Give a demo archive a believable filing history: entered, reviewed and filed within a few
    working days of its contract (most within the policy's 5, some late), instead of all on the
    day the demo was loaded, so the KPI dashboard and the monthly checks have history to show."""
    from datetime import UTC, datetime, time

    from portal import workcal
    from portal.dbsetup import begin_write
    from portal.extensions import db

    rng = random.Random(f"filing:{archive.number}")
    now = datetime.now(UTC).replace(tzinfo=None)
    start = archive.contract_signed_on or (workcal.today() - timedelta(days=rng.randint(20, 300)))
    lag = rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 7, 9)) if archive.contract_signed_on else rng.randint(1, 5)
    filed_on = workcal.add_working_days(start, lag)
    filed = min(datetime.combine(filed_on, time(2, rng.randint(0, 59))), now)  # 10:xx Beijing time
    created = min(datetime.combine(start, time(1, rng.randint(0, 59))), filed)
    begin_write(archive)
    archive.created_at = created
    archive.submitted_at = created + (filed - created) / 3
    archive.reviewed_at = created + (filed - created) * 2 / 3
    archive.filed_at = filed
    db.session.commit()


def load_demo(archives: int = 50, password: str = "demo12345") -> str:
    """Create the demo users and ``archives`` demo archives; skip what already exists."""
    from portal.admin.models import CustomerType
    from portal.archives.models import Archive

    users_created = create_demo_users(password)
    specs = demo_specs(max(archives, 0))
    types = dict(db.session.execute(sa.select(CustomerType.code, CustomerType.id)).all())
    existing = set(db.session.scalars(sa.select(Archive.name).where(
        Archive.name.in_([s.data["name"] for s in specs])))) if specs else set()
    users = _users()
    created: Counter[str] = Counter()
    for spec in specs:
        if spec.data["name"] in existing:
            continue
        _load_archive(spec, users, types)
        created[spec.status] += 1
    parts = [f"{len(users_created)} demo users created"]
    total = sum(created.values())
    if total:
        order = ("filed", "approved", "submitted", "rejected", "draft")
        parts.append(f"{total} demo archives created (" +
                     ", ".join(f"{created[s]} {s}" for s in order if created[s]) + ")")
    else:
        parts.append("demo archives already present, none added")
    skipped = len(specs) - total
    if total and skipped:
        parts.append(f"{skipped} already present")
    from portal.demo_documents import load_demo_documents
    documents = load_demo_documents()
    if documents:
        parts.append(f"{documents} demo documents stored")
    return "; ".join(parts) + "."
