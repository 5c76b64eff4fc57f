"""Word pools for brand names and poster copy, and look-alike characters for defects."""

from __future__ import annotations

import numpy as np

LATIN_SYLLABLES = (
    "lu", "mo", "ra", "vel", "trix", "no", "va", "zen", "ka", "lio", "sol", "ter", "fi",
    "ora", "qui", "ny", "dex", "ari", "bel", "cor", "mi", "sa", "to", "vio", "xen", "yo",
)
CJK_NAME_HEADS = ("鼎好", "华悦", "星河", "云逸", "金禾", "悦享", "优品", "青山", "东方", "百惠",
                  "嘉乐", "明月", "天和", "新源", "福满")
CJK_NAME_TAILS = ("商城", "生活", "优选", "科技", "超市", "家居", "食品", "百货")
SLOGANS_EN = ("Live Better Every Day", "Quality You Can Trust", "Made For You",
              "Fresh Ideas Daily", "Simply The Best", "Feel The Difference")
SLOGANS_ZH = ("品质生活 从这里开始", "好物不贵", "用心做好产品", "每一天都更好", "值得信赖的选择",
              "新鲜每一天")

HEADLINES_ZH = ("新品上市", "限时特惠", "夏季大促", "全场五折", "会员专享", "品质生活", "年终盛典",
                "开学季", "周年庆典", "爆款直降", "春季焕新", "好礼相送", "清凉一夏", "秋季上新",
                "超值套餐", "满减狂欢", "每日鲜选", "家居焕新季", "冬日暖心价", "开业大吉")
HEADLINES_EN = ("NEW ARRIVAL", "Summer Sale", "Limited Edition", "Fresh Deals", "MEGA SALE",
                "Grand Opening", "Best Sellers", "Holiday Gifts", "Flash Sale", "Back to School",
                "Weekend Special", "Autumn Collection", "Clearance", "Members Only",
                "Winter Warmers", "Hot Picks")
MIXED = ("新品 NEW", "限时特惠 50% OFF", "双11 狂欢节", "Buy 2 Get 1 免费", "618 年中大促",
         "VIP 会员日", "全场 8 折", "Top 10 热销榜", "Wi-Fi 全覆盖", "3D 立体环绕",
         "SALE 低至 3 折", "4K 超清屏", "App 专享价", "NO.1 销量冠军", "24h 极速发货")
DETAILS_ZH = ("满300减50", "活动时间 11.01-11.11", "扫码关注 了解更多", "全国包邮 七天无理由",
              "数量有限 先到先得", "详情请咨询门店", "每满100元送20元", "线上线下同步开售",
              "最终解释权归本店所有", "会员积分双倍", "到店即送精美礼品", "新客首单立减",
              "营业时间 早九点至晚十点")
DETAILS_EN = ("Free shipping on orders over $50", "Offer ends Sunday", "While stocks last",
              "Visit us in store or online", "Members save an extra 10%", "Open daily 9am-9pm",
              "Terms and conditions apply", "Scan the code to join", "Limited time only",
              "Order online, pick up in store", "New styles every week", "Valid until 31 Dec")
PRICES = ("¥199", "$49.99", "仅售 ¥88", "Now $19.99", "€25", "¥1299 起", "低至 ¥9.9",
          "Only $5", "原价 ¥399", "From $129", "¥59.90", "$299", "特价 ¥168", "2 for $30",
          "到手价 ¥79", "Save $100")

# look-alike substitutions for the wrong_chars defect
SIMILAR: dict[str, str] = {
    "O": "0Q", "0": "O8", "l": "1I", "1": "l7", "I": "l1", "e": "co", "c": "eo", "a": "oe",
    "o": "ae", "S": "58", "5": "S6", "B": "8R", "8": "B3", "E": "FB", "F": "EP", "n": "hr",
    "h": "nb", "m": "nw", "u": "vn", "v": "uy", "i": "jl", "g": "qy", "q": "gp", "t": "fl",
    "r": "nt", "C": "GO", "G": "CO", "P": "RF", "R": "PB", "M": "NW", "N": "MH", "9": "6g",
    "6": "9b", "2": "Z7", "3": "8B", "4": "A9", "7": "1T", "$": "S5", "¥": "Y半", "A": "4R",
    "D": "O0", "T": "7Y", "s": "5z", "d": "bq", "b": "d6", "p": "qb", "y": "vg", "w": "vm",
    "k": "hx", "f": "tr", "x": "kz", "z": "sx", "H": "NM", "L": "IE", "V": "UY", "U": "VO",
    "W": "VM", "Y": "VT", "K": "XR", "X": "KY", "Z": "2S", "J": "IU",
    "商": "啇", "品": "晶", "新": "亲", "大": "太", "日": "曰", "人": "入", "己": "已",
    "未": "末", "土": "士", "天": "夭", "特": "持", "惠": "慧", "价": "份", "城": "域",
    "限": "垠", "时": "吋", "折": "拆", "全": "金", "场": "汤", "好": "妤", "买": "卖",
    "送": "迭", "满": "瞒", "活": "话", "动": "劲", "会": "合", "员": "贝", "上": "土",
    "市": "币", "季": "李", "促": "捉", "享": "亨", "生": "牛", "优": "忧", "选": "迭",
    "礼": "札", "焕": "换", "春": "舂", "年": "午", "庆": "厌", "典": "奥", "爆": "瀑",
    "直": "真", "降": "绛", "开": "井", "学": "字", "夏": "复", "超": "趄", "家": "冢",
    "居": "局", "食": "良", "百": "白", "货": "贷", "科": "料", "技": "枝",
    "销": "消", "榜": "傍", "节": "卞", "欢": "欠", "狂": "汪", "免": "兔", "费": "贾",
    "仅": "权", "售": "隹", "原": "厚", "起": "赵", "低": "底", "至": "致", "包": "句",
    "邮": "油", "无": "天", "理": "里", "由": "甲", "数": "娄", "量": "暈", "有": "育",
    "先": "洗", "到": "倒", "得": "待", "请": "清", "详": "洋", "情": "清", "咨": "姿",
    "询": "旬", "门": "闩", "店": "占", "每": "母", "元": "无", "线": "钱", "同": "司",
    "步": "少", "扫": "归", "码": "玛", "关": "美", "注": "住", "了": "子", "解": "鲜",
    "更": "便", "多": "夕", "中": "申", "体": "休", "环": "坏", "绕": "饶", "覆": "复",
    "盖": "羔", "专": "传", "周": "同", "鼎": "晶", "华": "毕", "悦": "说", "星": "早",
    "河": "何", "云": "去", "逸": "免", "金": "全", "禾": "木", "明": "朋", "月": "目",
    "和": "知", "源": "原", "福": "副", "乐": "东", "嘉": "喜", "东": "车", "方": "万",
    "青": "责", "山": "出", "质": "贡", "从": "丛", "这": "还", "里": "理", "始": "治",
    "不": "下", "贵": "责", "用": "甩", "心": "必", "做": "作", "产": "严", "一": "二",
    "都": "郡", "值": "植", "信": "言", "赖": "懒", "的": "约", "择": "泽", "鲜": "鱼",
    "半": "羊", "五": "王", "八": "入", "口": "日", "立": "豆",
}
RANDOM_CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你"
RANDOM_LATIN = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def brand_names(rng: np.random.Generator) -> tuple[str, str]:
    """A Latin display name (2–3 syllables, capitalised) and a Chinese brand name."""
    n = int(rng.integers(2, 4))
    latin = "".join(LATIN_SYLLABLES[int(i)] for i in rng.choice(len(LATIN_SYLLABLES), n,
                                                                 replace=False))
    latin = latin[:10].capitalize()
    zh = CJK_NAME_HEADS[int(rng.integers(len(CJK_NAME_HEADS)))] + \
        CJK_NAME_TAILS[int(rng.integers(len(CJK_NAME_TAILS)))]
    return latin, zh


def pick(rng: np.random.Generator, pool: tuple[str, ...]) -> str:
    return pool[int(rng.integers(len(pool)))]
