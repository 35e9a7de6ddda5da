// --help and --version. A test keeps VERSION equal to package.json's.

export const VERSION = '0.1.0'

export const HELP = `ecr-promote ${VERSION}: promote a container image between registries by digest, every platform.

Usage: ecr-promote SOURCE DESTINATION [options]
       ecr-promote --images FILE|- [options]      a release set: SOURCE DESTINATION per line, all or nothing

  SOURCE        REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...   (env ECR_PROMOTE_SOURCE)
  DESTINATION   REGISTRY/REPO[:TAG]; Docker Hub: docker.io/acme/app   (env ECR_PROMOTE_DESTINATION)

Options (each also from the environment as ECR_PROMOTE_<NAME>, e.g. ECR_PROMOTE_IF_EXISTS; a flag wins):
  --tags LIST                    tags to write, comma-separated (default: the destination's tag, else the source's);
                                 full references to the destination are taken as their tags; latest is floating
  --floating-tags LIST           tags always moved to the digest, written after --tags (latest, 1, 1.4);
                                 auto: latest, MAJOR, MAJOR.MINOR, each moved only to the newest release
  --images FILE|-                promote every SOURCE DESTINATION line of FILE (- : stdin) in one step;
                                 no tag is written anywhere until every image is copied (env: the lines)
  --if-exists fail|skip|overwrite  when a guarded tag holds another digest (default: fail)
  --dry-run                      resolve, check and report; write nothing
  --referrers true|false         copy signatures, SBOMs and attestations with the image (default: true)
  --concurrency N                transfers at once, 1-64 (default: 16)
  --source-username NAME         basic credentials for the source (default: anonymous, or ECR login)
  --destination-username NAME    basic credentials for the destination (Docker Hub: your user or organisation)
  --source-password-stdin        read the source password from standard input
  --destination-password-stdin   read the destination password from standard input
                                 (or ECR_PROMOTE_SOURCE_PASSWORD / ECR_PROMOTE_DESTINATION_PASSWORD;
                                 a password is never accepted as a flag)
                                 ECR_PROMOTE_GITHUB_TOKEN: a ghcr.io side with no credentials logs in with it
  --dockerhub-oidc-connection-id ID Docker Hub without a password: the organisation's OIDC connection
                                 (GitHub Actions only; --destination-username names the organisation)
  --require-signature-key PEM|FILE  gate: the source digest must be signed by this key (cosign .sig or a
                                 Sigstore bundle); repeat for more keys; nothing is written otherwise
  --fail-on-scan-severity critical|high|medium|low  gate, ECR source: refuse findings at or above it
  --scan-wait-seconds N          how long to wait for a scan in progress, 0-3600 (default: 300)
  --create-repository true|false ECR destination: create it when missing (default: false)
  --repository-tag-mutability MUTABLE|IMMUTABLE  for a repository --create-repository makes
  --role-to-assume ARN           IAM role to assume with a web identity token (default: none: the AWS
                                 default chain: environment keys, profiles, EKS IRSA and Pod Identity,
                                 ECS and EC2 roles)
  --web-identity-token-env NAME  the OIDC token is in this environment variable (GitLab id_tokens)
  --web-identity-token-file PATH the OIDC token is in this file (read when used)
                                 (neither, inside GitHub Actions: the job's OIDC token)
  --audience AUD                 audience of the GitHub OIDC token (default: sts.amazonaws.com)
  --role-session-name NAME       session name for the role (default: ecr-promote-...)
  --role-duration-seconds N      900-43200 (default: 3600)
  --aws-region REGION            region for STS (default: the ECR host's)
  --output text|json             stdout: the totals line (default), or one JSON object
  --dotenv FILE                  append ECR_PROMOTE_DIGEST, _IMAGE, _RESULT, _TAGS (GitLab dotenv reports)
  --results-dir DIR              write Tekton results IMAGE_DIGEST and IMAGE_URL there
  --help, --version

The log goes to stderr. HTTPS_PROXY, HTTP_PROXY, NO_PROXY and NODE_EXTRA_CA_CERTS are honoured.

Exit codes:
  0  done: copied, unchanged, or skipped (--if-exists skip)
  1  anything else (a registry unreachable, content that does not verify, ...)
  2  bad usage or input, found before any network call
  3  a guarded tag holds another digest and --if-exists is fail
  4  a registry or AWS refused the credentials or the access
  5  a gate refused the image (no trusted signature, scan findings, scan not done)
  130, 143  cancelled by SIGINT, SIGTERM (no tag write starts after the signal)
`
