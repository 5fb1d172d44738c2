/**
 * Everything the runner uses from the AWS SDK, in one module that the bundle carries apart from
 * the rest (components/image/runner-bundle.ts): it is about half of the bundle's code, and only S3
 * destinations, CloudWatch metrics and the SNS run summary need it. Import it only through
 * loadAwsSdk(). SNS rides in the same chunk rather than one of its own: the clients share their
 * core (@smithy/*, @aws-sdk/core), which a second chunk would carry and compile a second time.
 */
export * as s3 from "@aws-sdk/client-s3";
export { Upload } from "@aws-sdk/lib-storage";
export * as cloudwatch from "@aws-sdk/client-cloudwatch";
export * as sns from "@aws-sdk/client-sns";
