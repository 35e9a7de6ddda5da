// The tag list API (`GET /v2/<name>/tags/list`), followed through its `Link` pages. Not a Docker Hub
// pull; ECR needs ecr:ListImages for it.
import { header } from './auth.js'
import { parseErrorBody, RegistryError } from './errors.js'
import { repositoryScope, type RegistryClient } from './transport.js'

const PAGE = 1000
const MAX_PAGES = 1000

/** Every tag of the repository ([] for one that does not exist); undefined when the registry will not list them all. */
export async function listTags(
  client: RegistryClient,
  repository: string,
  scopes = [repositoryScope(repository, 'pull')]
): Promise<string[] | undefined> {
  const tags: string[] = []
  let url: string | undefined = `/v2/${repository}/tags/list?n=${PAGE}`
  for (let page = 0; url; page++) {
    if (page >= MAX_PAGES) {
      throw new RegistryError(`GET tags of ${repository}: more than ${MAX_PAGES} pages`, { retryable: false })
    }
    const response = await client.request({
      method: 'GET',
      url,
      scopes,
      expect: [200],
      allow: [401, 403, 404],
      what: `GET tags of ${repository}`
    })
    const text = await response.body.text()
    // A repository that does not exist yet has no tags.
    if (
      response.status === 404 &&
      page === 0 &&
      parseErrorBody(text).some((d) => d.code === 'NAME_UNKNOWN')
    ) {
      return []
    }
    // A list cut short would read as "no such tag" for what is on the missing pages.
    if (response.status !== 200) return undefined
    let parsed: { tags?: unknown }
    try {
      parsed = JSON.parse(text) as { tags?: unknown }
    } catch (error) {
      throw new RegistryError(`GET tags of ${repository}: the answer is not JSON`, {
        retryable: false,
        cause: error
      })
    }
    const found = Array.isArray(parsed.tags) ? parsed.tags.filter((t) => typeof t === 'string') : []
    tags.push(...(found as string[]))
    url = nextPage(header(response.headers, 'link'))
  }
  return tags
}

/** `Link: </v2/...?last=x>; rel="next"` as a path (or URL) on the registry. */
export function nextPage(link: string | undefined): string | undefined {
  const match = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)
  return match ? match[1] : undefined
}
