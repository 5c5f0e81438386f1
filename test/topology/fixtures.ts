/**
 * @module test/topology/fixtures
 * The same topology in Knox XML and in postern YAML, for the readers' tests.
 */

export const SANDBOX_XML = `<?xml version="1.0" encoding="UTF-8"?>
<topology>
    <name>sandbox</name>
    <path>webhdfs</path>
    <redeployTime>1700000000000</redeployTime>
    <gateway>
        <provider>
            <role>authentication</role>
            <name>ShiroProvider</name>
            <enabled>true</enabled>
            <param>
                <name>sessionTimeout</name>
                <value>30</value>
            </param>
            <param name="main.ldapRealm" value="org.apache.knox.gateway.shirorealm.KnoxLdapRealm"/>
        </provider>
        <provider>
            <role>hostmap</role>
            <name>static</name>
            <enabled>false</enabled>
        </provider>
        <chain>
            <name>anonymous</name>
            <provider-ref>
                <role>authentication</role>
                <name>Anonymous</name>
                <param><name>realm</name><value>open</value></param>
            </provider-ref>
            <provider-ref>
                <role>authorization</role>
            </provider-ref>
        </chain>
    </gateway>
    <service>
        <role>WEBHDFS</role>
        <version>2.4.0</version>
        <url>http://nn1:50070/webhdfs</url>
        <url>http://nn2:50070/webhdfs</url>
        <param><name>replayBufferSize</name><value>8</value></param>
        <dispatch>
            <classname>org.apache.knox.gateway.dispatch.DefaultDispatch</classname>
            <use-two-way-ssl>true</use-two-way-ssl>
            <param><name>responseExcludeHeaders</name><value>WWW-AUTHENTICATE</value></param>
        </dispatch>
    </service>
    <service>
        <role>HIVE</role>
        <name>hive</name>
        <url>ws://hive:10001/cliservice</url>
        <chain-ref>
            <name>anonymous</name>
            <param><role>authentication</role><name>realm</name><value>hive</value></param>
        </chain-ref>
    </service>
    <application>
        <name>knoxauth</name>
    </application>
</topology>
`;

export const SANDBOX_YAML = `# the YAML twin of SANDBOX_XML
path: webhdfs
providers:
  - role: authentication
    name: ShiroProvider
    enabled: true
    params:
      sessionTimeout: 30
      main.ldapRealm: org.apache.knox.gateway.shirorealm.KnoxLdapRealm
  - { role: hostmap, name: static, enabled: false }
chains:
  - name: anonymous
    providers:
      - role: authentication
        name: Anonymous
        params: { realm: open }
      - role: authorization
services:
  - role: WEBHDFS
    version: 2.4.0
    urls:
      - http://nn1:50070/webhdfs
      - http://nn2:50070/webhdfs
    params: { replayBufferSize: 8 }
    dispatch:
      classname: org.apache.knox.gateway.dispatch.DefaultDispatch
      use-two-way-ssl: true
      params:
        responseExcludeHeaders: WWW-AUTHENTICATE
  - role: HIVE
    name: hive
    url: ws://hive:10001/cliservice
    chain:
      name: anonymous
      params:
        authentication: { realm: hive }
applications:
  - name: knoxauth
`;
