"""Simplified Chinese strings, keyed by the English text of strings.json.

`python scripts/zh_hans.py` rebuilds translations/zh-Hans.json from strings.json and fails
if any English string has no translation here (the completeness test checks the same).
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / "smart_care"

ZH: dict[str, str] = {
    "Set up your household": "设置您的家庭",
    "Smart Care keeps each person's health record in this Home Assistant. Add the people of the household afterwards, from the integration page.": "智慧照护将每位家庭成员的健康档案保存在本 Home Assistant 中。之后请在集成页面添加家庭成员。",
    "Household name": "家庭名称",
    "Blood glucose unit": "血糖单位",
    "Shown as the integration's title.": "作为集成的标题显示。",
    "How blood glucose is shown. Meters may report either; Smart Care converts.": "血糖的显示方式。血糖仪可能使用任一单位，智慧照护会自动换算。",
    "Enter a name for the household.": "请输入家庭名称。",
    "A household is already set up. Add people to it instead.": "已设置家庭。请改为向其中添加成员。",
    "Person": "成员",
    "Add person": "添加成员",
    "Edit person": "编辑成员",
    "Add a person": "添加成员",
    "Edit a person": "编辑成员",
    "Only the display alias appears on entities and dashboards. Everything else stays in the private health record.": "实体和仪表板上只显示昵称，其余信息均保存在私密的健康档案中。",
    "Display alias": "昵称",
    "Home Assistant person": "Home Assistant 人员",
    "Birth date": "出生日期",
    "Sex": "性别",
    "National or health ID number": "身份证号或医保卡号",
    "Conditions and history": "疾病与病史",
    "Allergies": "过敏史",
    "Medications": "用药",
    "Emergency contacts": "紧急联系人",
    'A short name or nickname, e.g. "Grandma". Used for entity names.': "简短的称呼或昵称，例如“奶奶”。用于实体名称。",
    "Optional link to a person in Home Assistant (for location during an emergency, when enabled).": "可选：关联 Home Assistant 中的人员（启用后用于紧急情况下的位置）。",
    "Shared with the clinic only when the household allows identified sharing.": "仅在家庭允许实名共享时才会提供给社区医院。",
    'One per line, e.g. "Metformin 500 mg 08:00, 20:00".': "每行一种，例如“二甲双胍 500 mg 08:00, 20:00”。",
    "Notify services to reach when an alarm is not acknowledged (SMS gateway, mobile app, e-mail).": "告警无人确认时使用的通知服务（短信网关、手机应用、电子邮件）。",
    "Medical card (NFC tag)": "医疗卡（NFC 标签）",
    "Tag ID of the person's medical card. Scanning it claims the next reading from a shared device for this person (within 5 minutes).": "该成员医疗卡的标签 ID。扫描后，共享设备的下一次读数（5 分钟内）将归属此成员。",
    "A reading from {device} needs a person": "来自 {device} 的读数需要指定成员",
    "Who took this reading?": "这次是谁测量的？",
    "{device} sent {values} at {time} and Smart Care could not tell who measured. Best guess: {guess}. The reading keeps its original time. Reading ID: {reading_id}.": "{device} 在 {time} 发送了 {values}，智慧照护无法判断是谁测量的。最可能是：{guess}。读数保留原始时间。读数 ID：{reading_id}。",
    "This reading was already assigned or removed.": "该读数已被指定或已删除。",
    "No reading with this ID is held or stored.": "没有该 ID 的待定或已保存读数。",
    "Assign reading": "指定读数归属",
    "Gives a reading to a person: one a shared device could not attribute, or one stored for the wrong person. The reading keeps its original time.": "将读数指定给某位成员：共享设备无法判断归属的读数，或被记到错误成员名下的读数。读数保留原始时间。",
    "Reading ID": "读数 ID",
    "From the repair notice or the smart_care_measurement event.": "来自修复通知或 smart_care_measurement 事件。",
    "Measured regularly": "定期测量项目",
    "Overdue after": "超时时长",
    "Smart Care raises a \"measurement overdue\" alarm when one of these has no new reading in time.": "若其中某项未按时测量，智慧照护会发出“测量超时”告警。",
    "Hours without a reading before a scheduled measurement counts as overdue (26 h = daily plus 2 h grace).": "定期测量在多少小时内无新读数即视为超时（26 小时 = 每日一次加 2 小时宽限）。",
    "Blood pressure": "血压",
    "Early warning score": "早期预警评分",
    "Complete": "完整",
    "Missing parameters": "缺失参数",
    "Health status": "健康状态",
    "Health advice": "健康提示",
    "Normal": "正常",
    "Information": "提示",
    "Warning": "警告",
    "Urgent": "紧急",
    "Critical": "危急",
    "Vital signs abnormal": "生命体征异常",
    "Measurement overdue": "测量超时",
    "Alert": "告警",
    "Opened": "已发出",
    "Escalated": "已升级",
    "Acknowledged": "已确认",
    "Snoozed": "已暂缓",
    "Reopened": "已重新打开",
    "Resolved": "已解除",
    "No unresolved alert has this ID.": "没有该 ID 的未解除告警。",
    "Thresholds not changed: {reason}.": "阈值未更改：{reason}。",
    "Alert ID": "告警 ID",
    "From the smart_care_alert event or the health status sensor.": "来自 smart_care_alert 事件或健康状态传感器。",
    "Acknowledge alert": "确认告警",
    "Someone is taking care of it: stops escalation. The alert resolves when the values are normal again.": "已有人处理：停止升级。数值恢复正常后告警自动解除。",
    "Snooze alert": "暂缓告警",
    "Quiets an alert for a while; it opens again if still unresolved then.": "暂时静默告警；到时仍未解除则重新打开。",
    "Minutes": "分钟",
    "How long to snooze.": "暂缓多长时间。",
    "Resolve alert": "解除告警",
    "Closes an alert by hand, e.g. after a clinician has seen the person.": "手动解除告警，例如医生已查看该成员后。",
    "Get alerts": "获取告警",
    "Returns the unresolved alerts, optionally of one person, and optionally resolved ones too.": "返回未解除的告警，可只看某位成员，也可包括已解除的告警。",
    "Include resolved": "包括已解除",
    "Also return resolved alerts from the record.": "同时返回档案中已解除的告警。",
    "Set thresholds": "设置阈值",
    "Personalises a person's alarm limits (administrators only). Each vital takes any of warning_low, urgent_low, critical_low, warning_high, urgent_high, critical_high; null removes a limit.": "为成员设置个性化告警阈值（仅管理员）。每项生命体征可设 warning_low、urgent_low、critical_low、warning_high、urgent_high、critical_high；null 表示取消该限值。",
    "Thresholds": "阈值",
    "Limits per vital, e.g. {\"systolic_bp\": {\"warning_high\": 150}}.": "各项生命体征的限值，例如 {\"systolic_bp\": {\"warning_high\": 150}}。",
    "Readings from other sensors": "来自其他传感器的读数",
    "Sensors of other integrations that measure this person, e.g. a Withings weight or an ESPHome SpO2. Units are converted.": "测量该成员的其他集成的传感器，例如 Withings 体重或 ESPHome 血氧。单位会自动换算。",
    "Choose a sensor of another integration; Smart Care's own sensors cannot feed it.": "请选择其他集成的传感器；智慧照护自身的传感器不能作为来源。",
    "Enter a display alias.": "请输入昵称。",
    "The alias can be at most 40 characters.": "昵称最多 40 个字符。",
    "Another person of this household already has this alias.": "家庭中已有其他成员使用此昵称。",
    "The birth date cannot be in the future.": "出生日期不能晚于今天。",
    "Enter a birth date after 1900-01-01.": "请输入 1900-01-01 之后的出生日期。",
    "Use only letters, digits, spaces, '-', '/' or '.' (at most 64).": "只能使用字母、数字、空格、“-”、“/”或“.”（最多 64 个）。",
    "This text can be at most 2000 characters.": "此文本最多 2000 个字符。",
    "Emergency contacts must be notify services, e.g. notify.mobile_app_phone.": "紧急联系人必须是通知服务，例如 notify.mobile_app_phone。",
    "The household is not loaded. Enable or reload Smart Care, then try again.": "家庭尚未加载。请启用或重新加载智慧照护后重试。",
    "The person was updated.": "成员信息已更新。",
    "Household options": "家庭选项",
    "Share location during an emergency": "紧急情况下共享位置",
    "Applies to glucose sensors created after the change; existing ones can be changed in their entity settings.": "适用于更改后创建的血糖传感器；已有传感器可在其实体设置中更改。",
    "When on, an unacknowledged critical alarm may include the person's location for emergency contacts. Off by default.": "开启后，无人确认的危急告警可向紧急联系人提供该成员的位置。默认关闭。",
    "Female": "女",
    "Male": "男",
    "Other": "其他",
    "Unknown": "未知",
    "Systolic blood pressure": "收缩压",
    "Diastolic blood pressure": "舒张压",
    "Pulse": "脉搏",
    "Heart rate": "心率",
    "Oxygen saturation": "血氧饱和度",
    "Respiration rate": "呼吸频率",
    "Body temperature": "体温",
    "Weight": "体重",
    "Height": "身高",
    "Body mass index": "体重指数",
    "Body fat": "体脂率",
    "Blood glucose": "血糖",
    "Last measurement": "最近一次测量",
    "Smart Care has no loaded household. Set one up first.": "智慧照护没有已加载的家庭，请先设置。",
    "Name the person (alias) or their Smart Care device.": "请指定成员（昵称）或其智慧照护设备。",
    "No person of the household matches.": "家庭中没有匹配的成员。",
    "Give at least one measurement value.": "请至少提供一个测量值。",
    "The measurement time is in the future.": "测量时间晚于当前时间。",
    "Not stored: {reason}.": "未保存：{reason}。",
    "Record measurement": "记录测量值",
    "Adds readings taken by hand (or by a device without Bluetooth) to a person's health record.": "将手动测量（或无蓝牙设备测得）的读数添加到成员的健康档案。",
    "Display alias of the person.": "成员的昵称。",
    "Person's device": "成员的设备",
    "The person's Smart Care device, instead of the alias.": "成员的智慧照护设备（代替昵称）。",
    "Time": "时间",
    "When the reading was taken. Defaults to now.": "测量的时间，默认为现在。",
    "Systolic": "收缩压",
    "Systolic blood pressure in mmHg.": "收缩压，单位 mmHg。",
    "Diastolic": "舒张压",
    "Diastolic blood pressure in mmHg.": "舒张压，单位 mmHg。",
    "Pulse rate in beats per minute.": "脉率，单位 次/分。",
    "Heart rate in beats per minute.": "心率，单位 次/分。",
    "SpO2 in percent.": "血氧饱和度，单位 %。",
    "Breaths per minute.": "每分钟呼吸次数。",
    "Body temperature, in the unit below.": "体温，单位见下方。",
    "Temperature unit": "温度单位",
    "°C or °F.": "°C 或 °F。",
    "Body weight, in the unit below.": "体重，单位见下方。",
    "Weight unit": "体重单位",
    "kg or lb.": "kg 或 lb。",
    "Height in centimetres.": "身高，单位 厘米。",
    "BMI in kg/m².": "体重指数，单位 kg/m²。",
    "Body fat in percent.": "体脂率，单位 %。",
    "Blood glucose, in the unit below.": "血糖，单位见下方。",
    "Glucose unit": "血糖单位",
    "mmol/L or mg/dL.": "mmol/L 或 mg/dL。",
    "Health device {name}": "健康设备 {name}",
    "Add a health device": "添加健康设备",
    "Smart Care found the Bluetooth health device {name}. When it wakes to measure or sync, Smart Care connects, sets its clock, and adds the readings to the health record of the person who measured. After adding it, open its options to say who uses it.": "智慧照护发现了蓝牙健康设备 {name}。设备在测量或同步而唤醒时，智慧照护会连接它、校准时钟，并把读数加入测量者的健康档案。添加后，请在其选项中设置使用者。",
    "Bluetooth health devices seen nearby that are not set up yet. If yours is missing, wake it (take a measurement or press its Bluetooth button) and try again.": "附近发现的尚未设置的蓝牙健康设备。如果没有您的设备，请唤醒它（测量一次或按下蓝牙键）后重试。",
    "Device": "设备",
    "This device is already set up.": "此设备已设置。",
    "This device is already being set up.": "此设备正在设置中。",
    "No Bluetooth health device that is not already set up was seen nearby. Wake the device (take a measurement or press its Bluetooth button) and try again.": "附近没有发现尚未设置的蓝牙健康设备。请唤醒设备（测量一次或按下蓝牙键）后重试。",
    "This device offers no health service Smart Care reads.": "此设备没有智慧照护可读取的健康服务。",
    "Who uses this device": "谁在使用此设备",
    "A reading goes to the person set for the device's user number, else to someone who has just scanned their medical card, else to the owner. Leave the owner empty for a device several people share: a scale then matches readings by weight, and readings it cannot place wait in Repairs for you to assign.": "读数先归属设备用户编号对应的成员，其次归属刚刚扫描医疗卡的成员，再次归属设备主人。多人共用的设备请不设主人：体重秤会按体重匹配，无法判断归属的读数会在“修复”中等待您指定。",
    "Owner": "主人",
    "User 1": "用户 1",
    "User 2": "用户 2",
    "User 3": "用户 3",
    "User 4": "用户 4",
    "The person who uses this device.": "使用此设备的成员。",
    "Who is user 1 on a cuff or scale with user buttons or profiles.": "血压计或体重秤（带用户按键或用户档案）上的用户 1 是谁。",
    "Who is user 2 on a cuff or scale with user buttons or profiles.": "血压计或体重秤（带用户按键或用户档案）上的用户 2 是谁。",
    "Who is user 3 on a cuff or scale with user buttons or profiles.": "血压计或体重秤（带用户按键或用户档案）上的用户 3 是谁。",
    "Who is user 4 on a cuff or scale with user buttons or profiles.": "血压计或体重秤（带用户按键或用户档案）上的用户 4 是谁。",
    "Add a person to the household first (Smart Care integration page, Add person).": "请先向家庭添加成员（智慧照护集成页面，“添加成员”）。",
    "Last reading": "最近读数",
    "{device} is out of Bluetooth range": "{device} 超出蓝牙范围",
    "Smart Care saw {device} advertise but could not connect to it {attempts} times in a row. Its readings stay in the device until a connection works.\n\n1. Measure closer to the Home Assistant Bluetooth adapter, or move the adapter (a USB extension cable helps).\n2. Or add an ESPHome Bluetooth proxy near where the device is used.\n\nThis notice goes away after the next successful connection.": "智慧照护发现了 {device} 的广播，但已连续 {attempts} 次无法连接。在连接成功之前，读数会保存在设备中。\n\n1. 在离 Home Assistant 蓝牙适配器更近的地方测量，或移动适配器（使用 USB 延长线会有帮助）。\n2. 或者在设备使用的位置附近添加一个 ESPHome 蓝牙代理。\n\n下次连接成功后，此通知会自动消失。",
    "{device} needs to be paired": "{device} 需要配对",
    "{device} only talks to hosts it is paired (bonded) with, and refused Smart Care {attempts} times in a row. Pair it once:\n\n1. Put the device in pairing mode (usually: hold its Bluetooth or sync button until the symbol blinks).\n2. Pair it with the Home Assistant host, for example in a terminal with `bluetoothctl`, then `pair {address}` and `trust {address}`.\n3. A device paired with a phone app may accept only one host: pairing with Home Assistant can replace the phone.\n\nThis notice goes away after the next successful connection.": "{device} 只与已配对（绑定）的主机通信，已连续 {attempts} 次拒绝智慧照护。请配对一次：\n\n1. 让设备进入配对模式（通常：按住蓝牙键或同步键直到图标闪烁）。\n2. 将其与 Home Assistant 主机配对，例如在终端中运行 `bluetoothctl`，然后执行 `pair {address}` 和 `trust {address}`。\n3. 已与手机应用配对的设备可能只接受一台主机：与 Home Assistant 配对可能会取代手机。\n\n下次连接成功后，此通知会自动消失。",
    "{device} does not accept the connection": "{device} 不接受连接",
    "{device} advertised but ended the connection {attempts} times in a row. Many cuffs and meters accept a new host only in pairing mode.\n\n1. Put the device in pairing mode close to Home Assistant (usually: hold its Bluetooth or sync button until the symbol blinks).\n2. Take a measurement or start a sync: Smart Care connects while the device is awake.\n3. If it keeps failing, take the batteries out for a minute and try again.\n\nThis notice goes away after the next successful connection.": "{device} 有广播，但已连续 {attempts} 次断开连接。许多血压计和血糖仪只在配对模式下接受新主机。\n\n1. 在 Home Assistant 附近让设备进入配对模式（通常：按住蓝牙键或同步键直到图标闪烁）。\n2. 测量一次或开始同步：设备唤醒期间智慧照护会连接它。\n3. 如果仍然失败，请取出电池一分钟后再试。\n\n下次连接成功后，此通知会自动消失。",
}


def translate(node: object, missing: list[str]) -> object:
    """Translate every string leaf of ``node``."""
    if isinstance(node, dict):
        return {key: translate(value, missing) for key, value in node.items()}
    if isinstance(node, str):
        if node not in ZH:
            missing.append(node)
            return node
        return ZH[node]
    return node


def build() -> tuple[dict[str, object], list[str]]:
    """The zh-Hans translation of strings.json and the English strings left untranslated."""
    strings = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    missing: list[str] = []
    result = translate(strings, missing)
    assert isinstance(result, dict)
    return result, missing


def main() -> int:
    """Rebuild the translation files."""
    result, missing = build()
    if missing:
        print("No zh-Hans translation for:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    strings_text = (COMPONENT / "strings.json").read_text(encoding="utf-8")
    (COMPONENT / "translations" / "en.json").write_text(strings_text, encoding="utf-8")
    (COMPONENT / "translations" / "zh-Hans.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
