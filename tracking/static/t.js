/*! herald.js — Herald's web tracking snippet. Dependency-free, first-party only.
 *
 *   <script async src="https://TRACKER/t.js" data-write-key="hwk_…"></script>
 *
 * Sends Segment-style calls (page, track, identify) to the tracker this file was served
 * from. See docs/tracking-snippet.md for every call and what it sends.
 */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var SESSION_IDLE_MS = 30 * 60 * 1000;
  var YEAR_S = 365 * 24 * 60 * 60;
  var ANONYMOUS_KEY = "hrd_aid"; // localStorage and cookie
  var USER_KEY = "hrd_uid";
  var SESSION_KEY = "hrd_session";
  var TOKEN_PARAM = "hrd_t";
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name",
    utm_content: "content", utm_term: "term" };

  var existing = window.herald;
  if (existing && existing.loaded) return; // the snippet is on the page twice

  // --- small helpers --------------------------------------------------------------------
  function warn(error) {
    try {
      if (window.console && console.warn) console.warn("herald.js:", error);
    } catch (ignored) { /* nothing to do */ }
  }

  function safe(fn) {
    return function () {
      try {
        return fn.apply(null, arguments);
      } catch (error) {
        warn(error);
      }
    };
  }

  function uuid() {
    var crypto = window.crypto;
    if (crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // `data-herald-product-id` (dataset.heraldProductId) -> `product_id`
  function snake(name) {
    return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  }

  // --- storage: first-party only, and never fatal ---------------------------------------
  function stored(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (error) { /* storage full or blocked: the cookie still holds the id */ }
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  // The cookie goes on the widest domain of this site that the browser accepts
  // (shop.example.com -> example.com), so every subdomain shares one anonymous id.
  function writeCookie(name, value, maxAge) {
    var base = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + maxAge +
      "; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
    var host = location.hostname;
    var parts = /^[\d.]+$|:/.test(host) ? [] : host.split(".");
    for (var i = parts.length - 2; i >= 0; i--) { // a public suffix (co.uk) is refused
      var domain = parts.slice(i).join(".");
      document.cookie = base + "; domain=" + domain;
      if (readCookie(name) === value) return;
    }
    document.cookie = base; // host-only: localhost, IP addresses, or no wider domain allowed
  }

  // --- identity and session -------------------------------------------------------------
  // The id in localStorage or the cookie (either may have been cleared); `renew` writes
  // the cookie again for a year from now (once per page).
  var memoryAnonymousId = null; // when both localStorage and cookies are blocked

  function anonymousId(renew) {
    var id = stored(ANONYMOUS_KEY) || readCookie(ANONYMOUS_KEY) || memoryAnonymousId || uuid();
    memoryAnonymousId = id;
    if (stored(ANONYMOUS_KEY) !== id) store(ANONYMOUS_KEY, id);
    try {
      if (renew === true || readCookie(ANONYMOUS_KEY) !== id) {
        writeCookie(ANONYMOUS_KEY, id, YEAR_S);
      }
    } catch (error) { /* cookies blocked: localStorage still holds the id */ }
    return id;
  }

  function campaignFromUrl() {
    var campaign = null;
    try {
      var query = new URLSearchParams(location.search);
      Object.keys(UTM).forEach(function (param) {
        var value = query.get(param);
        if (value) {
          campaign = campaign || {};
          campaign[UTM[param]] = value;
        }
      });
    } catch (error) { /* no URLSearchParams: no campaign */ }
    return campaign;
  }

  var memorySession = null; // when localStorage is blocked

  // The session: renewed after 30 minutes without a call; a landing URL with UTM parameters
  // sets the session's campaign, which every call of the session then carries.
  function session(landingCampaign) {
    var now = Date.now();
    var current = memorySession;
    try {
      current = JSON.parse(stored(SESSION_KEY) || "null") || memorySession;
    } catch (error) { /* damaged: start again */ }
    if (!isObject(current) || !current.id || now - current.last > SESSION_IDLE_MS) {
      current = { id: uuid(), campaign: null };
    }
    if (landingCampaign) current.campaign = landingCampaign;
    current.last = now;
    memorySession = current;
    store(SESSION_KEY, JSON.stringify(current));
    return current;
  }

  // --- the page -------------------------------------------------------------------------
  function cleanUrl(href) {
    try {
      var url = new URL(href);
      if (!url.searchParams.has(TOKEN_PARAM)) return href;
      url.searchParams.delete(TOKEN_PARAM);
      return url.toString();
    } catch (error) {
      return href;
    }
  }

  function pageContext() {
    var url = cleanUrl(location.href);
    var search = "";
    try {
      search = new URL(url).search;
    } catch (error) { /* keep it empty */ }
    return {
      url: url,
      path: location.pathname,
      title: document.title,
      referrer: document.referrer,
      search: search,
    };
  }

  // --- sending --------------------------------------------------------------------------
  var script = document.currentScript ||
    document.querySelector("script[data-write-key][src*='/t.js']");
  var writeKey = script ? script.getAttribute("data-write-key") : null;
  var endpoint = script ? new URL(script.src, location.href).origin : null;

  function transmit(path, body) {
    var url = endpoint + path;
    var sent = false;
    try {
      if (navigator.sendBeacon) {
        sent = navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }));
      }
    } catch (error) { /* fall back to fetch */ }
    if (!sent && window.fetch) {
      window.fetch(url, {
        method: "POST",
        body: body,
        headers: { "Content-Type": "text/plain" },
        keepalive: body.length < 60000,
        credentials: "omit",
        mode: "cors",
      }).catch(warn);
    }
  }

  function send(type, fields, extraContext) {
    if (!writeKey || !endpoint) {
      warn("no data-write-key on the script tag: nothing is sent");
      return;
    }
    var now = new Date().toISOString();
    var current = session(null);
    var context = {
      library: { name: "herald.js", version: VERSION },
      page: pageContext(),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      sessionId: current.id,
    };
    if (current.campaign) context.campaign = current.campaign;
    Object.assign(context, extraContext || {});
    var message = Object.assign({
      type: type,
      messageId: uuid(),
      anonymousId: anonymousId(),
      timestamp: now,
      sentAt: now,
      context: context,
      writeKey: writeKey,
    }, fields);
    var userId = stored(USER_KEY);
    if (userId && !message.userId) message.userId = userId;
    transmit("/v1/" + type, JSON.stringify(message));
  }

  // --- the calls ------------------------------------------------------------------------
  function track(event, properties) {
    if (!event) throw new Error("herald.track needs an event name");
    send("track", { event: String(event), properties: isObject(properties) ? properties : {} });
  }

  // page(), page(properties), page(name, properties)
  function page(name, properties) {
    if (isObject(name)) {
      properties = name;
      name = null;
    }
    var fields = { properties: Object.assign(pageContext(), isObject(properties) ? properties : {}) };
    if (name) fields.name = String(name);
    send("page", fields);
  }

  // identify(userId, traits), identify(traits)
  function identify(userId, traits) {
    if (isObject(userId)) {
      traits = userId;
      userId = null;
    }
    var fields = { traits: isObject(traits) ? traits : {} };
    if (userId !== null && userId !== undefined && userId !== "") {
      fields.userId = String(userId);
      store(USER_KEY, fields.userId);
    }
    send("identify", fields);
  }

  function goal(name, properties) {
    if (!name) throw new Error("herald.goal needs a goal name");
    track("Goal Completed", Object.assign({}, isObject(properties) ? properties : {},
      { goal: String(name) }));
  }

  // Forget who this browser is (on log-out): a new anonymous id, no user id, a new session.
  function reset() {
    store(USER_KEY, null);
    store(SESSION_KEY, null);
    store(ANONYMOUS_KEY, null);
    memorySession = null;
    memoryAnonymousId = null;
    try {
      writeCookie(ANONYMOUS_KEY, "", 0);
    } catch (error) { /* nothing to forget */ }
  }

  // --- automatic tracking ---------------------------------------------------------------
  function heraldAttributes(element, skip) {
    var properties = {};
    Object.keys(element.dataset).forEach(function (key) {
      if (key.indexOf("herald") === 0 && key.length > 6 && skip.indexOf(key) < 0) {
        var name = key.slice(6);
        properties[snake(name.charAt(0).toLowerCase() + name.slice(1))] = element.dataset[key];
      }
    });
    return properties;
  }

  function onClick(event) {
    var target = event.target;
    var element = target && target.closest ? target.closest("[data-herald-event]") : null;
    if (!element) return;
    track(element.getAttribute("data-herald-event"), heraldAttributes(element, ["heraldEvent"]));
  }

  // Only the form's name, its data-herald-* attributes and an e-mail address: never the
  // other fields' values, never a password.
  function onSubmit(event) {
    var form = event.target;
    if (!form || !form.matches || !form.matches("form[data-herald-form]")) return;
    var properties = heraldAttributes(form, ["heraldForm"]);
    properties.form_id = form.getAttribute("data-herald-form");
    var email = form.querySelector("input[type=email], input[name=email]");
    if (email && email.type !== "password" && email.value) properties.email = email.value.trim();
    track("Form Submitted", properties);
  }

  // An e-mail link's signed token says whose browser this is: the tracker checks it and
  // links this anonymous id to that profile. The token then leaves the address bar.
  function identifyFromLink() {
    var token = null;
    try {
      token = new URLSearchParams(location.search).get(TOKEN_PARAM);
    } catch (error) { /* no URLSearchParams */ }
    if (!token) return;
    try {
      if (window.history && history.replaceState) {
        history.replaceState(history.state, "", cleanUrl(location.href));
      }
    } catch (error) { /* the token stays in the address bar */ }
    send("identify", { traits: {} }, { heraldToken: token });
  }

  // --- start ----------------------------------------------------------------------------
  var api = {
    loaded: true,
    version: VERSION,
    track: safe(track),
    page: safe(page),
    identify: safe(identify),
    goal: safe(goal),
    reset: safe(reset),
    anonymousId: safe(function () { return anonymousId(); }),
    // herald.push(["track", "Signed Up", {...}]): the queue's form, also after loading
    push: safe(function () {
      Array.prototype.forEach.call(arguments, function (call) {
        if (Array.isArray(call) && typeof api[call[0]] === "function" && call[0] !== "push") {
          api[call[0]].apply(null, call.slice(1));
        }
      });
    }),
  };

  safe(function () {
    window.herald = api;
    anonymousId(true);
    session(campaignFromUrl());
    identifyFromLink();
    page();
    if (Array.isArray(existing)) api.push.apply(null, existing);
    document.addEventListener("click", safe(onClick), true);
    document.addEventListener("submit", safe(onSubmit), true);
  })();
})(window, document);
