// Smart Care: the visit report inside Home Assistant, for the person device page's link
// (configuration_url homeassistant://smart-care-report/<person id>). The report page needs
// the viewer's login, which a plain link does not carry: the panel asks for a signed path
// (auth/sign_path, 5 minutes to load it) and shows the page in a frame.

class SmartCareReportPanel extends HTMLElement {
  set hass(hass) {
    this._hass = hass;
    this._show();
  }

  set route(route) {
    this._route = route;
    this._show();
  }

  async _show() {
    if (!this._hass || !this._route) return;
    const person = (this._route.path || "").replace(/^\//, "").split("/")[0];
    if (!person || person === this._shown) return;
    this._shown = person;
    const lang = (this._hass.locale && this._hass.locale.language) || this._hass.language || "en";
    const path = `/smart_care/report/${encodeURIComponent(person)}?lang=${lang.toLowerCase().startsWith("zh") ? "zh-Hans" : "en"}`;
    try {
      const signed = await this._hass.callWS({ type: "auth/sign_path", path, expires: 300 });
      const frame = document.createElement("iframe");
      frame.src = signed.path;
      frame.title = "Smart Care";
      frame.style.cssText = "border:0;width:100%;height:100vh;display:block;background:#fff";
      this.replaceChildren(frame);
    } catch (err) {
      this.textContent = String((err && err.message) || err);
    }
  }
}

if (!customElements.get("smart-care-report-panel")) {
  customElements.define("smart-care-report-panel", SmartCareReportPanel);
}
