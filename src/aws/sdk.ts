// How the AWS SDK clients are loaded. The action loads them lazily (lazySdk: separate chunks, so a
// promotion that involves no ECR host does not pay for parsing them, ~55 ms measured); the CLI,
// which must be one file, bundles them (src/cli/sdk.ts).
export interface AwsSdk {
  ecr(): Promise<typeof import('@aws-sdk/client-ecr')>
  sts(): Promise<typeof import('@aws-sdk/client-sts')>
  ecrPublic(): Promise<typeof import('@aws-sdk/client-ecr-public')>
}

/** @sigstore/verify and @sigstore/bundle for the signature gate, in their own chunk for the action. */
export const lazySigstore = async () => {
  const [verify, bundle] = await Promise.all([import('@sigstore/verify'), import('@sigstore/bundle')])
  return { verify, bundle }
}

export const lazySdk: AwsSdk = {
  ecr: () => import('@aws-sdk/client-ecr'),
  sts: () => import('@aws-sdk/client-sts'),
  ecrPublic: () => import('@aws-sdk/client-ecr-public')
}
