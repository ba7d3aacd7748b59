/*
 * `lodge snapshot create`: a client of a running lodge's API (the same
 * requests as the curl examples of docs/SNAPSHOTS.md). libcurl is loaded
 * with dlopen only when this command runs, so that it costs nothing to
 * every other start of lodge (linking it would add ~3 ms to each exec).
 */
#include "snapshot/client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct curl_api {
	void *lib;
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

static int curl_load(struct curl_api *c, struct err *e)
{
	c->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!c->lib)
		return errf(e, -ENOENT, "libcurl.so.4 is needed for this command: %s", dlerror());
	*(void **)&c->init = dlsym(c->lib, "curl_easy_init");
	*(void **)&c->setopt = dlsym(c->lib, "curl_easy_setopt");
	*(void **)&c->perform = dlsym(c->lib, "curl_easy_perform");
	*(void **)&c->getinfo = dlsym(c->lib, "curl_easy_getinfo");
	*(void **)&c->cleanup = dlsym(c->lib, "curl_easy_cleanup");
	*(void **)&c->strerror = dlsym(c->lib, "curl_easy_strerror");
	*(void **)&c->slist_append = dlsym(c->lib, "curl_slist_append");
	*(void **)&c->slist_free_all = dlsym(c->lib, "curl_slist_free_all");
	if (!c->init || !c->setopt || !c->perform || !c->getinfo || !c->cleanup || !c->strerror ||
	    !c->slist_append || !c->slist_free_all) {
		dlclose(c->lib);
		return errf(e, -ENOENT, "libcurl.so.4 lacks the easy interface");
	}
	return 0;
}

struct reply {
	char buf[4096];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t take = size * n;

	if (take > sizeof(r->buf) - 1 - r->len)
		take = sizeof(r->buf) - 1 - r->len;
	memcpy(r->buf + r->len, p, take);
	r->len += take;
	r->buf[r->len] = 0;
	return size * n;
}

/* One request; (*status) the HTTP status, (reply) the body. 0 or -errno (no answer). */
static int request(struct curl_api *c, const char *sock, const char *method, const char *path,
		   const char *body, long *status, struct reply *reply, struct err *e)
{
	CURL *h = c->init();
	struct curl_slist *hdr = NULL;
	char url[256];
	CURLcode rc;

	if (!h)
		return errf(e, -ENOMEM, "curl_easy_init failed");
	reply->len = 0;
	reply->buf[0] = 0;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	hdr = c->slist_append(hdr, "Content-Type: application/json");
	hdr = c->slist_append(hdr, "Accept: application/json");
	c->setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	c->setopt(h, CURLOPT_URL, url);
	c->setopt(h, CURLOPT_CUSTOMREQUEST, method);
	c->setopt(h, CURLOPT_HTTPHEADER, hdr);
	c->setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	c->setopt(h, CURLOPT_WRITEDATA, reply);
	if (body)
		c->setopt(h, CURLOPT_POSTFIELDS, body);
	rc = c->perform(h);
	if (rc == CURLE_OK)
		c->getinfo(h, CURLINFO_RESPONSE_CODE, status);
	c->slist_free_all(hdr);
	c->cleanup(h);
	if (rc != CURLE_OK)
		return errf(e, -EIO, "%s: %s", sock, c->strerror(rc));
	return 0;
}

/* The fault_message of a 4xx/5xx answer, or the body. */
static void fault(const struct reply *r, long status, const char *what, struct err *e)
{
	json_t *j = json_loads(r->buf, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "fault_message"));

	errf(e, -EIO, "%s: HTTP %ld: %s", what, status, msg ? msg : r->buf);
	json_decref(j);
}

int snapshot_client_create(const char *sock, bool diff, const char *state_path,
			   const char *mem_path, struct err *e)
{
	struct curl_api c;
	struct reply r;
	long status = 0;
	bool was_running;
	json_t *j, *body;
	char *text;
	int rc = curl_load(&c, e);

	if (rc < 0)
		return rc;
	rc = request(&c, sock, "GET", "/", NULL, &status, &r, e);
	if (rc == 0 && status != 200)
		fault(&r, status, "GET /", e), rc = -EIO;
	if (rc < 0)
		goto out;
	j = json_loads(r.buf, 0, NULL);
	was_running = json_is_string(json_object_get(j, "state")) &&
		      strcmp(json_string_value(json_object_get(j, "state")), "Running") == 0;
	json_decref(j);
	if (was_running) {
		rc = request(&c, sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", &status, &r, e);
		if (rc == 0 && status != 204)
			fault(&r, status, "pausing the VM", e), rc = -EIO;
		if (rc < 0)
			goto out;
	}
	body = json_pack("{s:s,s:s,s:s}", "snapshot_type", diff ? "Diff" : "Full",
			 "snapshot_path", state_path, "mem_file_path", mem_path);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		rc = errf(e, -ENOMEM, "out of memory");
	} else {
		rc = request(&c, sock, "PUT", "/snapshot/create", text, &status, &r, e);
		if (rc == 0 && status != 204)
			fault(&r, status, "PUT /snapshot/create", e), rc = -EIO;
		free(text);
	}
	/* A VM this command paused runs again, whether the snapshot worked or not. */
	if (was_running) {
		struct err e2 = { "" };
		long st2 = 0;

		if (request(&c, sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", &st2, &r, &e2) < 0 ||
		    st2 != 204) {
			if (rc == 0)
				rc = st2 ? (fault(&r, st2, "resuming the VM", e), -EIO)
					 : errf(e, -EIO, "resuming the VM: %s", e2.msg);
		}
	}
out:
	dlclose(c.lib);
	return rc;
}
