"""Municipality codes (全国地方公共団体コード, JIS X 0402: 6 digits, the first two the prefecture) and the
romanised locality a signing certificate's subject carries (``L=<prefecture>, L=<municipality>``).

[I] The romanisation follows the Hepburn forms the municipalities use in English; the exact subject RDNs of
real certificates are not public. The built-in table has every prefecture and the larger municipalities;
for a code outside it the subject carries the prefecture alone. Pass ``extra`` to :func:`locality` (or
extend :data:`MUNICIPALITIES`) to add more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jpki.registry.errors import InvalidResident

PREFECTURES: dict[str, tuple[str, str]] = {
    "01": ("北海道", "Hokkaido"),
    "02": ("青森県", "Aomori"),
    "03": ("岩手県", "Iwate"),
    "04": ("宮城県", "Miyagi"),
    "05": ("秋田県", "Akita"),
    "06": ("山形県", "Yamagata"),
    "07": ("福島県", "Fukushima"),
    "08": ("茨城県", "Ibaraki"),
    "09": ("栃木県", "Tochigi"),
    "10": ("群馬県", "Gunma"),
    "11": ("埼玉県", "Saitama"),
    "12": ("千葉県", "Chiba"),
    "13": ("東京都", "Tokyo"),
    "14": ("神奈川県", "Kanagawa"),
    "15": ("新潟県", "Niigata"),
    "16": ("富山県", "Toyama"),
    "17": ("石川県", "Ishikawa"),
    "18": ("福井県", "Fukui"),
    "19": ("山梨県", "Yamanashi"),
    "20": ("長野県", "Nagano"),
    "21": ("岐阜県", "Gifu"),
    "22": ("静岡県", "Shizuoka"),
    "23": ("愛知県", "Aichi"),
    "24": ("三重県", "Mie"),
    "25": ("滋賀県", "Shiga"),
    "26": ("京都府", "Kyoto"),
    "27": ("大阪府", "Osaka"),
    "28": ("兵庫県", "Hyogo"),
    "29": ("奈良県", "Nara"),
    "30": ("和歌山県", "Wakayama"),
    "31": ("鳥取県", "Tottori"),
    "32": ("島根県", "Shimane"),
    "33": ("岡山県", "Okayama"),
    "34": ("広島県", "Hiroshima"),
    "35": ("山口県", "Yamaguchi"),
    "36": ("徳島県", "Tokushima"),
    "37": ("香川県", "Kagawa"),
    "38": ("愛媛県", "Ehime"),
    "39": ("高知県", "Kochi"),
    "40": ("福岡県", "Fukuoka"),
    "41": ("佐賀県", "Saga"),
    "42": ("長崎県", "Nagasaki"),
    "43": ("熊本県", "Kumamoto"),
    "44": ("大分県", "Oita"),
    "45": ("宮崎県", "Miyazaki"),
    "46": ("鹿児島県", "Kagoshima"),
    "47": ("沖縄県", "Okinawa"),
}
"""Prefecture code → (name, romanised name)."""

MUNICIPALITIES: dict[str, tuple[str, str]] = {
    "131016": ("千代田区", "Chiyoda-ku"),
    "131024": ("中央区", "Chuo-ku"),
    "131032": ("港区", "Minato-ku"),
    "131041": ("新宿区", "Shinjuku-ku"),
    "131059": ("文京区", "Bunkyo-ku"),
    "131067": ("台東区", "Taito-ku"),
    "131075": ("墨田区", "Sumida-ku"),
    "131083": ("江東区", "Koto-ku"),
    "131091": ("品川区", "Shinagawa-ku"),
    "131105": ("目黒区", "Meguro-ku"),
    "131113": ("大田区", "Ota-ku"),
    "131121": ("世田谷区", "Setagaya-ku"),
    "131130": ("渋谷区", "Shibuya-ku"),
    "131148": ("中野区", "Nakano-ku"),
    "131156": ("杉並区", "Suginami-ku"),
    "131164": ("豊島区", "Toshima-ku"),
    "131172": ("北区", "Kita-ku"),
    "131181": ("荒川区", "Arakawa-ku"),
    "131199": ("板橋区", "Itabashi-ku"),
    "131202": ("練馬区", "Nerima-ku"),
    "131211": ("足立区", "Adachi-ku"),
    "131229": ("葛飾区", "Katsushika-ku"),
    "131237": ("江戸川区", "Edogawa-ku"),
    "132012": ("八王子市", "Hachioji-shi"),
    "011002": ("札幌市", "Sapporo-shi"),
    "041009": ("仙台市", "Sendai-shi"),
    "111007": ("さいたま市", "Saitama-shi"),
    "121002": ("千葉市", "Chiba-shi"),
    "141003": ("横浜市", "Yokohama-shi"),
    "141305": ("川崎市", "Kawasaki-shi"),
    "141500": ("相模原市", "Sagamihara-shi"),
    "151009": ("新潟市", "Niigata-shi"),
    "221007": ("静岡市", "Shizuoka-shi"),
    "221309": ("浜松市", "Hamamatsu-shi"),
    "231002": ("名古屋市", "Nagoya-shi"),
    "261009": ("京都市", "Kyoto-shi"),
    "271004": ("大阪市", "Osaka-shi"),
    "271403": ("堺市", "Sakai-shi"),
    "281000": ("神戸市", "Kobe-shi"),
    "331007": ("岡山市", "Okayama-shi"),
    "341002": ("広島市", "Hiroshima-shi"),
    "401005": ("北九州市", "Kitakyushu-shi"),
    "401307": ("福岡市", "Fukuoka-shi"),
    "431001": ("熊本市", "Kumamoto-shi"),
    "472018": ("那覇市", "Naha-shi"),
}
"""Municipality code → (name, romanised name), for the larger municipalities."""

_CODE = re.compile(r"[0-9]{6}")


def check_municipality(code: str) -> str:
    """A municipality code: 6 digits whose first two name a prefecture (01-47); InvalidResident if not."""
    if not _CODE.fullmatch(code) or code[:2] not in PREFECTURES:
        raise InvalidResident("municipality", "must be a 6-digit local government code of prefecture 01-47")
    return code


def locality(code: str, extra: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """The romanised ``L`` values for a signing certificate's subject: prefecture, then municipality."""
    check_municipality(code)
    known = {**MUNICIPALITIES, **(extra or {})}.get(code)
    prefecture = PREFECTURES[code[:2]][1]
    return [prefecture] if known is None else [prefecture, known[1]]
