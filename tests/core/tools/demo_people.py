"""Demo customers by name (openids from examples/shop/shop.json), shared by the tool tests."""

from pathlib import Path

SHOP_JSON = Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 金卡
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"  # 普通
WANG = "oV3x_N7E90ME_bu-VS7pEhzxtpLB"  # 银卡
LI = "oLRje3JaE4HAr7k8xYzcb6iauujC"  # 普通
CHEN = "otA-rxCRZebzSHbFtF39vmbLmjZJ"  # 银卡, 新疆
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 金卡
ZHAO = "oeE7_pr9Qr_HmJnZrF7_skzsdk-v"  # 普通
ZHOU = "oB2X2KrviiwkAnWgU0E-E64hMe_T"  # 银卡
ALL = (LIN, ZHANG, WANG, LI, CHEN, LIU, ZHAO, ZHOU)
TTL_S = 600  # pending-action lifetime used by the registry fixture
