#!/usr/bin/python
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: well_known_info
author: homeserver.delegation developers (@homeserver-delegation)
version_added: 0.1.0
short_description: Fetch and check a Matrix server's /.well-known/matrix/server and client documents
description:
  - Fetches C(https://<hostname>/.well-known/matrix/server) the way homeservers do (port 443,
    certificate verified, redirects followed but never to C(http://), bodies of 51200 bytes or
    more refused, C(m.server) checked against the server-name grammar), from B(every) AAAA and
    A address of the hostname, and reports when the addresses answer differently.
  - Fetches C(https://<hostname>/.well-known/matrix/client), checks that every response (redirects
    included) carries C(Access-Control-Allow-Origin), that C(m.homeserver.base_url) is a URL, and
    that C(GET <base_url>/_matrix/client/versions) answers like a homeserver.
  - Checks the client document as a web client in a browser on another origin meets it, with
    the CORS headers the specification recommends (C(Access-Control-Allow-Origin), C(-Methods),
    C(-Headers)), exactly one C(Access-Control-Allow-Origin) value, and the C(OPTIONS)
    preflight a browser sends first when the client adds a header such as C(X-Requested-With)
    or C(Authorization) (Origin C(https://web-client.invalid)); the preflight must answer 2xx
    without a redirect.
  - Reports, per document, the URL, status, redirect chain, content type, CORS header, cache
    period, size, parsed content, whether it is valid, and a list of problems, each with a
    C(code), a C(severity) (C(error) or C(warning)) and a message that says what to fix.
  - Nothing is changed anywhere; the module runs where the task runs (usually the controller).
options:
  server_name:
    description:
      - The Matrix server name whose hostname serves the documents, for example C(example.com).
      - A port in the name is ignored for the documents (they are always on port 443). IP
        literals are refused, since the well-known documents are only looked up for DNS names.
    type: str
    required: true
  documents:
    description:
      - Which documents to fetch and check.
    type: list
    elements: str
    choices: [server, client]
    default: [server, client]
  expected_server:
    description:
      - The C(m.server) value the server document must hold, for example C(matrix.example.com:443).
      - A different value is reported as a C(mismatch) error.
    type: str
  expected_base_url:
    description:
      - The C(m.homeserver.base_url) the client document must hold; a trailing C(/) is ignored.
      - A different value is reported as a C(mismatch) error.
    type: str
extends_documentation_fragment:
  - homeserver.delegation.requirements.dns
  - homeserver.delegation.connection
  - homeserver.delegation.connection.redirects
  - homeserver.delegation.connection.name_timeout
  - homeserver.delegation.connection.info_module
  - ansible.builtin.action_common_attributes
notes:
  - "Problem codes of the server document: C(not_found), C(http_error), C(not_json) (an HTML page
    included), C(not_object), C(missing_m_server), C(invalid_m_server), C(too_large),
    C(redirect_loop), C(too_many_redirects), C(insecure_redirect), C(redirect_to_internal_address)
    (see O(allow_internal_redirects)), C(tls_invalid), C(timeout) (no complete answer within
    O(timeout)), C(unreachable), C(no_address), C(inconsistent) (addresses answer differently), C(mismatch),
    and the warnings C(wrong_content_type) and C(cache_period) (a cache lifetime outside
    5 minutes to 48 hours, which servers clamp)."
  - "Problem codes of the client document: C(missing_cors), C(not_found), C(http_error),
    C(not_json), C(not_object), C(missing_base_url), C(invalid_base_url),
    C(client_versions_failed), C(too_large), C(redirect_loop), C(insecure_redirect),
    C(redirect_to_internal_address), C(tls_invalid), C(timeout), C(unreachable), C(no_address),
    C(mismatch), C(duplicate_cors) (two C(Access-Control-Allow-Origin) values, which browsers
    refuse), and the warnings C(wrong_content_type), C(incomplete_cors)
    (C(Access-Control-Allow-Methods) or C(Access-Control-Allow-Headers) lack the specification's
    values), C(preflight_failed) (the C(OPTIONS) preflight gets no 2xx answer) and
    C(preflight_missing_cors) (its answer lacks the headers a browser needs)."
  - "Problem code of the name: C(name_timeout) (error) when the checks of both documents
    together did not fit in O(name_timeout); the message names the request it cut short, which
    is also reported as C(timeout) in its document."
  - "Every JSON body (both documents and the C(/_matrix/client/versions) answer) must be valid
    JSON: C(NaN) and C(Infinity) are refused, and so is JSON nested more than 64 levels deep
    (C(not_json), or C(client_versions_failed) for the versions answer)."
  - Each code is explained, with the fix for each web server, in the collection's
    C(docs/troubleshooting.md).
seealso:
  - module: homeserver.delegation.federation_check
  - module: homeserver.delegation.srv_info
  - name: Matrix Server-Server API, /.well-known/matrix/server
    description: The server document and how homeservers fetch it.
    link: https://spec.matrix.org/latest/server-server-api/#resolving-server-names
  - name: Matrix Client-Server API, well-known URIs
    description: The client document, CORS and base_url validation.
    link: https://spec.matrix.org/latest/client-server-api/#well-known-uris
"""

EXAMPLES = r"""
- name: Check both well-known documents of example.com
  homeserver.delegation.well_known_info:
    server_name: example.com
    expected_server: matrix.example.com:443
    expected_base_url: https://matrix.example.com
  register: well_known

- name: Fail when a document has an error
  ansible.builtin.assert:
    that: well_known.problems | selectattr('severity', 'equalto', 'error') | list | length == 0
    fail_msg: "{{ well_known.problems | map(attribute='message') | join('\n') }}"

- name: Check only the server document, through a public resolver
  homeserver.delegation.well_known_info:
    server_name: example.com
    documents: [server]
    nameservers: [9.9.9.9]
"""

RETURN = r"""
server_name:
  description: The server name as given.
  returned: always
  type: str
  sample: example.com
hostname:
  description: The hostname the documents are fetched from (lower-cased).
  returned: always
  type: str
  sample: example.com
server:
  description: The server document report, or null when not asked for.
  returned: always
  type: dict
  contains:
    url:
      description: The URL requested first.
      type: str
      sample: https://example.com/.well-known/matrix/server
    final_url:
      description: The URL that gave the final answer (after redirects), or null.
      type: str
    status:
      description: The final HTTP status, or null when no response came.
      type: int
      sample: 200
    redirects:
      description: The redirects followed, each with C(url), C(status) and C(location).
      type: list
      elements: dict
    content_type:
      description: The C(Content-Type) header of the final response.
      type: str
      sample: application/json
    cors:
      description: The C(Access-Control-Allow-Origin) header, or null.
      type: str
    cache_seconds:
      description: How long homeservers cache the document (clamped to 300..172800 s; 86400 when no header says).
      type: int
      sample: 14400
    cache_period_header:
      description: The cache lifetime the headers ask for, before clamping, or null.
      type: int
    size:
      description: The body size in bytes.
      type: int
    content:
      description: The parsed JSON, or null.
      type: raw
      sample: {"m.server": "matrix.example.com:443"}
    valid:
      description: Whether homeservers can use the document.
      type: bool
    delegated_server:
      description: The C(m.server) value when the document is valid.
      type: str
      sample: matrix.example.com:443
    addresses:
      description: What each AAAA and A address of the hostname answered (C(address), C(status), C(content), C(valid), C(error_code), C(error)).
      type: list
      elements: dict
    problems:
      description: The problems of this document.
      type: list
      elements: dict
client:
  description: The client document report, or null when not asked for.
  returned: always
  type: dict
  contains:
    url:
      description: The URL requested first.
      type: str
      sample: https://example.com/.well-known/matrix/client
    status:
      description: The final HTTP status, or null.
      type: int
    redirects:
      description: The redirects followed, each with C(url), C(status), C(location) and C(cors).
      type: list
      elements: dict
    content_type:
      description: The C(Content-Type) header of the final response.
      type: str
    cors:
      description: The C(Access-Control-Allow-Origin) header of the final response, or null.
      type: str
      sample: "*"
    content:
      description: The parsed JSON, or null.
      type: raw
    base_url:
      description: The C(m.homeserver.base_url) value, or null.
      type: str
      sample: https://matrix.example.com
    versions:
      description: The answer of C(<base_url>/_matrix/client/versions) (C(url), C(status), C(versions)), or null.
      type: dict
    preflight:
      description:
        - The answer to the C(OPTIONS) preflight of the document's URL (sent once the document
          answered 200), or null.
        - C(url), C(origin) (the Origin sent), C(status), C(allow_origin), C(allow_methods),
          C(allow_headers) (the C(Access-Control-Allow-*) headers, or null) and C(error) (why no
          answer came, or null).
      type: dict
      sample:
        url: https://example.com/.well-known/matrix/client
        origin: https://web-client.invalid
        status: 204
        allow_origin: "*"
        allow_methods: GET, POST, PUT, DELETE, OPTIONS
        allow_headers: X-Requested-With, Content-Type, Authorization
        error: null
    valid:
      description: Whether the document leads clients to a working homeserver without errors.
      type: bool
    problems:
      description: The problems of this document.
      type: list
      elements: dict
problems:
  description: Every problem of both documents, the message prefixed with the document's name.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: A stable identifier of the problem (see the notes).
      type: str
      sample: missing_cors
    severity:
      description: C(error) (breaks discovery or clients) or C(warning) (works, but fragile).
      type: str
      sample: error
    message:
      description: What is wrong and what to do, for a person.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    connection_argument_spec,
    name_timeout_argument_spec,
    name_timeout_from_options,
    redirect_argument_spec,
    run_module_check,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import DNS_ONLY
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(redirect_argument_spec())
    argument_spec.update(name_timeout_argument_spec())
    argument_spec.update(
        server_name={"type": "str", "required": True},
        documents={"type": "list", "elements": "str", "choices": ["server", "client"], "default": ["server", "client"]},
        expected_server={"type": "str"},
        expected_base_url={"type": "str"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    result = run_module_check(module, lambda transport: well_known_info(
        transport, module.params["server_name"], tuple(module.params["documents"]),
        module.params["expected_server"], module.params["expected_base_url"],
        name_timeout=name_timeout_from_options(module.params)), DNS_ONLY)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
